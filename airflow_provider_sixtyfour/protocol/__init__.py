"""The one definition of the Sixtyfour Workflows API: routes, requests, records, statuses, errors, retries.

Nothing here does I/O. The sync hook, the async hook and the emulator's tests all build on it.
"""

from airflow_provider_sixtyfour.protocol.answers import read_answer
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourApiError,
    SixtyfourAuthError,
    SixtyfourConflictError,
    SixtyfourError,
    SixtyfourForbiddenError,
    SixtyfourInputError,
    SixtyfourInsufficientCreditError,
    SixtyfourNotFoundError,
    SixtyfourRateLimitError,
    SixtyfourResponseError,
    SixtyfourServerError,
    SixtyfourTransportError,
    SixtyfourValidationError,
    SixtyfourWebhookError,
)
from airflow_provider_sixtyfour.protocol.models import (
    BlockProgress,
    CancelResult,
    DownloadLink,
    LiveStatus,
    RunRecord,
    RunStarted,
    Workflow,
    WorkflowBlock,
)
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy
from airflow_provider_sixtyfour.protocol.statuses import TERMINAL_STATUSES, BlockStatus, RunStatus

__all__ = [
    "TERMINAL_STATUSES",
    "ApiCall",
    "BlockProgress",
    "BlockStatus",
    "CancelResult",
    "DownloadLink",
    "LiveStatus",
    "RateLimitGate",
    "RetryPolicy",
    "RunRecord",
    "RunStarted",
    "RunStatus",
    "SixtyfourApiError",
    "SixtyfourAuthError",
    "SixtyfourConflictError",
    "SixtyfourError",
    "SixtyfourForbiddenError",
    "SixtyfourInputError",
    "SixtyfourInsufficientCreditError",
    "SixtyfourNotFoundError",
    "SixtyfourRateLimitError",
    "SixtyfourResponseError",
    "SixtyfourServerError",
    "SixtyfourTransportError",
    "SixtyfourValidationError",
    "SixtyfourWebhookError",
    "Workflow",
    "WorkflowBlock",
    "read_answer",
]
