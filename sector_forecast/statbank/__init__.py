"""Statistics Denmark StatBank access: the production client (`client.py`), the snapshot layout, the pull of
live tables, and the local StatBank server (`server/`). Knows nothing of Dagster, MLflow or the forecasting domain.
"""

from sector_forecast.statbank.client import DEFAULT_SNAPSHOT, ENV_SNAPSHOT, ENV_URL, StatBankClient
from sector_forecast.statbank.errors import (
    StatBankApiError,
    StatBankBadResponse,
    StatBankError,
    StatBankUnreachable,
)

__all__ = [
    "DEFAULT_SNAPSHOT",
    "ENV_SNAPSHOT",
    "ENV_URL",
    "StatBankApiError",
    "StatBankBadResponse",
    "StatBankClient",
    "StatBankError",
    "StatBankUnreachable",
]
