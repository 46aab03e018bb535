"""Sixtyfour's signed outgoing webhooks: verify a delivery, and a receiver that turns deliveries into Airflow
asset events (``sixtyfour-webhook-receiver``, in :mod:`airflow_provider_sixtyfour.webhooks.receiver`).

Importing this package imports neither Airflow nor an HTTP library.
"""

from airflow_provider_sixtyfour.protocol.errors import SixtyfourWebhookError
from airflow_provider_sixtyfour.webhooks.verify import WebhookDelivery, asset_uri, verify_delivery

__all__ = ["SixtyfourWebhookError", "WebhookDelivery", "asset_uri", "verify_delivery"]
