"""``sixtyfour-webhook-receiver``: a small async service that turns Sixtyfour's signed deliveries into Airflow
asset events on ``sixtyfour://workflows/<workflow_id>``. Needs the ``receiver`` extra (aiohttp).

Run it with ``sixtyfour-webhook-receiver`` (or ``python -m airflow_provider_sixtyfour.webhooks.receiver``);
its settings come from the ``SIXTYFOUR_RECEIVER_*`` environment variables of
:data:`~airflow_provider_sixtyfour.webhooks.receiver.settings.ENV_VARS`.
"""

from airflow_provider_sixtyfour.webhooks.receiver.settings import ENV_VARS, ReceiverSettings, SettingsError

__all__ = ["ENV_VARS", "ReceiverSettings", "SettingsError"]
