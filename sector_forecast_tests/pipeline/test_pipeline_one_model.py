"""One model however it is run (issue 19): a fit origin materialised alone, inside a range, or by the cold run
gives identical predictions, intervals and MLflow metrics; re-materialising on unchanged data changes no forecast
and registers no new champion version."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sector_forecast.defs.partitions import RANGE_END, RANGE_START, quarter_label_to_key
from sector_forecast.storage.values import read_stored
from sector_forecast_tests.conftest import GraphEnv, copy_graph
from sector_forecast_tests.statbank_server import ServerHandle

ORIGIN = "2020Q1"  # an origin whose 40-quarter window (2010Q1..2019Q4) is shorter than a range run's history
MODELS = ("glm", "theta", "mean_4q")


@pytest.fixture(scope="module")
def rerun(materialised_graph: GraphEnv, session_statbank: ServerHandle, tmp_path_factory) -> dict:
    """A copy of the cold run's graph; then fits_job for ORIGIN alone, then for a range ending there, then the
    evaluation stage again. Returns the stored fits after each, the leaderboard and champion before/after."""
    env = copy_graph(materialised_graph.root, tmp_path_factory.mktemp("one_model"), session_statbank.url)
    key = quarter_label_to_key(ORIGIN)
    stored = {"cold": {m: read_stored(env.storage, f"fit_{m}", key) for m in MODELS}}
    before = {a: read_stored(env.storage, a) for a in ("backtest_leaderboard", "champion_model", "forecasts")}
    fits = env.defs.resolve_job_def("fits_job")
    assert fits.execute_in_process(instance=env.instance, partition_key=key).success
    stored["alone"] = {m: read_stored(env.storage, f"fit_{m}", key) for m in MODELS}
    ranged = {RANGE_START: quarter_label_to_key("2019Q2"), RANGE_END: key}
    assert fits.execute_in_process(instance=env.instance, tags=ranged).success
    stored["range"] = {m: read_stored(env.storage, f"fit_{m}", key) for m in MODELS}
    assert env.defs.resolve_job_def("evaluation_job").execute_in_process(instance=env.instance).success
    after = {a: read_stored(env.storage, a) for a in ("backtest_leaderboard", "champion_model", "forecasts")}
    yield {"env": env, "stored": stored, "before": before, "after": after}
    env.instance.dispose()


@pytest.mark.parametrize("model", MODELS)
def test_a_fit_is_the_same_alone_in_a_range_and_in_the_cold_run(rerun: dict, model: str) -> None:
    cold, alone, ranged = (rerun["stored"][how][model] for how in ("cold", "alone", "range"))
    for other in (alone, ranged):
        pd.testing.assert_frame_equal(cold["predictions"], other["predictions"])
        pd.testing.assert_frame_equal(cold["validation"], other["validation"])
        assert cold["model"].summary() == other["model"].summary()
    assert cold["model"].train_quarters[1] == "2019Q4"
    if model != "theta":
        assert cold["model"].train_quarters[0] == "2010Q1"  # the domain's 40-quarter window, however batched


def test_each_run_logged_the_same_mlflow_metrics(rerun: dict) -> None:
    env = rerun["env"]
    client = MlflowClient(tracking_uri=env.mlflow_uri, registry_uri=env.mlflow_uri)
    experiment = client.get_experiment_by_name("sector-vitality")
    key = quarter_label_to_key(ORIGIN)
    runs = client.search_runs([experiment.experiment_id],
                              f"tags.`dagster.asset_key` = 'fit_glm' and tags.`dagster.partition` = '{key}'")
    assert len(runs) == 3  # the cold run, alone, in a range
    assert len({tuple(sorted(r.data.metrics.items())) for r in runs}) == 1
    assert len({tuple(sorted(r.data.params.items())) for r in runs}) == 1


def test_unchanged_data_change_no_forecast_and_register_no_version(rerun: dict) -> None:
    before, after = rerun["before"], rerun["after"]
    pd.testing.assert_frame_equal(before["backtest_leaderboard"]["predictions"],
                                  after["backtest_leaderboard"]["predictions"])
    assert after["champion_model"]["registration"] == "unchanged"
    assert after["champion_model"]["champion_version"] == before["champion_model"]["champion_version"]
    columns = ["sector", "quarter", "prediction", "lower80", "upper80", "lower95", "upper95", "model_version"]
    pd.testing.assert_frame_equal(before["forecasts"][columns], after["forecasts"][columns])
    env = rerun["env"]
    client = MlflowClient(tracking_uri=env.mlflow_uri, registry_uri=env.mlflow_uri)
    assert len(client.search_model_versions("name = 'sector-vitality'")) == 1
