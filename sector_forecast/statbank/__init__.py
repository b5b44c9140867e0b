"""Statistics Denmark StatBank access: client, snapshot, local server. Never imports dagster."""

from sector_forecast.statbank.app import Response, StatBankApp
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
    "Response",
    "StatBankApiError",
    "StatBankApp",
    "StatBankBadResponse",
    "StatBankClient",
    "StatBankError",
    "StatBankUnreachable",
]
