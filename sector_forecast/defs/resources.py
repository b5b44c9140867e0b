"""Dagster resources: the StatBank source and the MLflow tracking store, configured from the environment.

Tests swap in a local StatBank server or a temporary tracking store by constructing these with other
values; nothing is patched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field, PrivateAttr

from sector_forecast.statbank import StatBankClient
from sector_forecast.statbank.client import env_source
from sector_forecast.tracking.runs import client_for, experiment_id

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


class StatBankResource(dg.ConfigurableResource):
    """DST StatBank API v1, or the bundled snapshot served through the same client code when no URL is set.

    `base_url` comes from `SECTOR_FORECAST_STATBANK_URL` (e.g. `https://api.statbank.dk/v1`); unset means
    the reconstructed snapshot in `data/statbank/` (or `SECTOR_FORECAST_SNAPSHOT_DIR`).
    """

    base_url: str | None = Field(default=None, description="StatBank API base URL; unset = bundled snapshot.")
    snapshot_dir: str | None = Field(default=None, description="Snapshot directory used when no URL is set.")
    timeout: float = 30.0
    retries: int = 3

    @classmethod
    def from_env(cls) -> StatBankResource:
        url, snapshot = env_source()
        return cls(base_url=url, snapshot_dir=snapshot)

    def data_label(self) -> str:
        """What every forecast, plot and report says about where its numbers come from (follows the data)."""
        shares = self.provenance_shares()
        where = f" served by {self.base_url}" if self.base_url else ""
        if any(by_status["real"] < 1.0 for by_status in shares.values()):
            return (f"RECONSTRUCTED data{where}: snapshot of real, chart-read and synthetic figures "
                    "(see data/README.md), not a DST download")
        return f"StatBank data from {self.base_url or f'a snapshot pulled from DST ({self.get_client().source})'}"

    def provenance_tags(self) -> dict[str, str]:
        """Where the numbers come from, as tags for MLflow runs and registered versions.

        Shares are of the cells the models learn from (`provenance_shares`). `data.source` is `statbank-api`
        only for a URL whose cells are all real (DST's API states no provenance); a server that serves the
        reconstructed snapshot is tagged like the snapshot, plus its `data.url`.
        """
        shares = self.provenance_shares()
        synthetic = shares["KONK25"]["synthetic"]
        if self.base_url and all(by_status["real"] == 1.0 for by_status in shares.values()):
            source = "statbank-api"
        elif synthetic:
            source = f"reconstructed snapshot ({synthetic:.1%} of KONK25 cells synthetic)"
        else:
            source = "snapshot of DST data"
        return {"data.source": source, **({"data.url": self.base_url} if self.base_url else {}),
                **{f"data.{table.lower()}.{status}": f"{share:.4f}"
                   for table, by_status in shares.items() for status, share in by_status.items()}}

    def provenance_shares(self) -> dict[str, dict[str, float]]:
        """Real / approximate / synthetic shares of the cells the models learn from, per table, as the source
        states them: a snapshot's provenance file, a local server's provenance document, or (DST's API) all real.
        """
        return self.get_client().provenance_shares(("KONK25", "DEMO14"))

    def get_client(self) -> StatBankClient:
        return StatBankClient(
            base_url=self.base_url,
            snapshot_dir=Path(self.snapshot_dir) if self.snapshot_dir else None,
            timeout=self.timeout,
            retries=self.retries,
        )


def default_mlflow_uri(dagster_home: str | None) -> str:
    """A database-backed store under the instance home, so `mlflow ui` shows what `run` logged."""
    home = Path(dagster_home or os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
    (home / "mlflow").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking store and model registry.

    Why not `dagster_mlflow.mlflow_tracking`: it opens one MLflow run per Dagster *run* with process-global
    state and ends it from a job hook, while this graph needs one MLflow run per asset *partition* (one
    forecast origin of one model), several per Dagster run in a single-run backfill. A thin resource over
    `MlflowClient` keeps each run explicit.
    """

    tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; unset = MLFLOW_TRACKING_URI or sqlite under DAGSTER_HOME."
    )
    experiment_name: str = "sector-vitality"
    registered_model_name: str = "sector-vitality"
    _uri: str = PrivateAttr(default="")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        home = context.instance.root_directory if context.instance is not None else None
        self._uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_mlflow_uri(home)

    @property
    def uri(self) -> str:
        return self._uri or self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_mlflow_uri(None)

    def artifact_location(self) -> str | None:
        """Artifacts beside a sqlite store; a server-backed store decides for itself."""
        if self.uri.startswith("sqlite:///"):
            return (Path(self.uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
        return None

    def get_client(self) -> MlflowClient:
        """The client of this store, also MLflow's current tracking and registry URI (for `load_model` & co)."""
        return client_for(self.uri)

    def experiment_id(self) -> str:
        """The id of `experiment_name`, created (with its artifacts beside a sqlite store) on first use."""
        return experiment_id(self.get_client(), self.experiment_name, self.artifact_location())
