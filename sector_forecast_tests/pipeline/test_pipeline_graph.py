"""The whole graph materialised once from a local StatBank server: panel, features, fits, registry, forecasts."""

from __future__ import annotations

import shutil

import dagster as dg
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sector_forecast.defs.partitions import origin_partitions, quarter_label_to_key, quarterly_partitions
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.storage.values import read_stored, write_value
from sector_forecast_tests.conftest import GraphEnv, copy_sqlite, make_graph_env

MODELS = ["naive", "seasonal_naive", "glm", "xgboost"]
LAST_QUARTER = "2026Q3"  # the snapshot's KONK25 ends at 2026M09


def _panel(env: GraphEnv) -> pd.DataFrame:
    keys = [k for k in quarterly_partitions.get_partition_keys() if k <= quarter_label_to_key(LAST_QUARTER)]
    return pd.concat(read_stored(env.storage, "quarterly_panel", k) for k in keys)


def test_panel_covers_2009_to_latest_quarter_with_provenance(materialised_graph: GraphEnv) -> None:
    panel = _panel(materialised_graph)
    assert panel["quarter"].min() == "2009Q1" and panel["quarter"].max() == LAST_QUARTER
    assert (panel.groupby("quarter")["sector"].nunique() == 10).all()
    year = panel["quarter"].str.slice(0, 4).astype(int)
    assert set(panel.loc[year < 2019, "births_provenance"]) == {"unavailable"}
    assert set(panel.loc[year.between(2019, 2023), "births_provenance"]) == {"published"}
    assert set(panel.loc[year >= 2024, "births_provenance"]) == {"nowcast"}
    # DEMO14 NYE sector 1, 2021 = 1465 (DST, exact): spread over the quarters, never copied into each.
    q = panel[(panel["sector"] == 1) & (panel["quarter"].str.startswith("2021"))]
    assert q["births"].tolist() == [1465 / 4] * 4
    # The score ranks a quarter's four-quarter balance in the sector's preceding 20 quarters (at least 8 with
    # published births): published births start 2019Q1, so the first balance is 2019Q4 and the first score
    # 2021Q4; none on a nowcast (2024 on).
    scored = panel.dropna(subset=["score"])
    assert scored["score"].between(0, 1, inclusive="neither").all()
    assert scored["quarter"].min() == "2021Q4" and scored["quarter"].max() == "2023Q4"
    assert set(scored["births_provenance"]) == {"published"}
    assert panel["entry_share"].notna().sum() > len(scored)  # the old entry share is kept as a column


def test_every_contract_check_passed(materialised_graph: GraphEnv) -> None:
    storage = materialised_graph.instance.event_log_storage
    assets = ["konk4_raw", "konk25_raw", "demo14_raw", "quarterly_panel", "feature_frame",
              *[f"fit_{m}" for m in MODELS], "backtest_leaderboard", "champion_model", "forecasts",
              "batch_predictions", "drift_report"]
    keys = [dg.AssetCheckKey(dg.AssetKey(a), "contract") for a in assets]
    latest = storage.get_latest_asset_check_execution_by_key(keys)
    assert set(latest) == set(keys)
    for key, record in latest.items():
        assert record.status.value == "SUCCEEDED", key


def test_feature_frame_has_column_lineage_to_the_panel(materialised_graph: GraphEnv) -> None:
    event = materialised_graph.instance.get_latest_materialization_event(dg.AssetKey("feature_frame"))
    lineage = event.asset_materialization.metadata["dagster/column_lineage"].value
    deps = lineage.deps_by_column["log_lag1"]
    assert [(d.asset_key.to_user_string(), d.column_name) for d in deps] == [("quarterly_panel", "bankruptcies")]
    panel_event = materialised_graph.instance.get_latest_materialization_event(dg.AssetKey("quarterly_panel"))
    panel_lineage = panel_event.asset_materialization.metadata["dagster/column_lineage"].value
    assert ("konk25_raw", "bankruptcies") in [
        (d.asset_key.to_user_string(), d.column_name) for d in panel_lineage.deps_by_column["bankruptcies"]
    ]
    # The same lineage as a markdown table, which Dagster OSS shows on the asset page.
    table = event.asset_materialization.metadata["column_lineage"].value
    assert "| `log_lag1` | `quarterly_panel.bankruptcies` |" in table.splitlines()


def test_fits_cover_every_origin_without_look_ahead(materialised_graph: GraphEnv) -> None:
    origins = [k for k in origin_partitions.get_partition_keys() if k <= quarter_label_to_key(LAST_QUARTER)]
    for model in MODELS:
        for key in origins:
            fit = read_stored(materialised_graph.storage, f"fit_{model}", key)
            origin = fit["predictions"]["origin"].iloc[0]
            assert fit["model"].train_quarters[1] <= quarter_offset(origin, -1), (model, origin)
            # ten sectors at each of horizons 1–4, each horizon's target origin + h
            assert fit["predictions"].groupby("horizon")["sector"].nunique().to_dict() == {1: 10, 2: 10, 3: 10, 4: 10}
        latest = read_stored(materialised_graph.storage, f"fit_{model}", origins[-1])
        assert latest["predictions"]["actual"].isna().all()  # 2026Q4 is not known yet
        older = read_stored(materialised_graph.storage, f"fit_{model}", origins[-2])["predictions"]
        # the one-step actual is known at the next origin; later horizons are graded by the leaderboard from the
        # panel (a stored fit never holds an actual its origin could not know)
        assert older.loc[older["horizon"] == 1, "actual"].notna().all()
        assert older.loc[older["horizon"] > 1, "actual"].isna().all()


def test_mlflow_has_one_run_per_fit_partition_and_the_champion(materialised_graph: GraphEnv) -> None:
    client = MlflowClient(tracking_uri=materialised_graph.mlflow_uri, registry_uri=materialised_graph.mlflow_uri)
    experiment = client.get_experiment_by_name("sector-vitality")
    runs = client.search_runs([experiment.experiment_id], "tags.`dagster.asset_key` = 'fit_glm'", max_results=500)
    n_origins = len([k for k in origin_partitions.get_partition_keys() if k <= quarter_label_to_key(LAST_QUARTER)])
    assert len(runs) == n_origins
    assert {r.data.tags["dagster.partition"] for r in runs} == set(
        origin_partitions.get_partition_keys()[:n_origins])
    assert all(r.data.tags["dagster.run_id"] for r in runs)
    assert {r.data.tags["data.source"] for r in runs} == {_source(materialised_graph)}
    version = client.get_model_version_by_alias("sector-vitality", "champion")
    gate = read_stored(materialised_graph.storage, "champion_model")["gate"]
    assert version.tags["model"] == gate["champion"]
    assert version.tags["data.source"] == _source(materialised_graph)
    gate_run = client.get_run(read_stored(materialised_graph.storage, "champion_model")["gate_run_id"])
    assert gate_run.data.metrics["gate_pvalue"] == pytest.approx(gate["pvalue"])


def _source(env: GraphEnv) -> str:
    return env.defs.resources["statbank"].provenance_tags()["data.source"]


def test_backtest_is_real_time_and_graded_only_against_published_actuals(materialised_graph: GraphEnv) -> None:
    board = read_stored(materialised_graph.storage, "backtest_leaderboard")
    graded = board["predictions"].dropna(subset=["actual"])
    # Origins 2012Q1..2026Q2 are graded (2026Q3's target, 2026Q4, is not published): 58 per model.
    assert graded.groupby("model")["origin"].nunique().min() >= 55
    assert graded["origin"].min() == "2012Q1"
    # Every graded score actual is a published score, never one computed on nowcast births.
    panel = _panel(materialised_graph).set_index(["sector", "quarter"])
    scores = board["score_predictions"].dropna(subset=["actual"])
    keys = list(zip(scores["sector"], scores["target_quarter"], strict=True))
    assert (panel.loc[keys, "births_provenance"] == "published").all()
    # Calibrated per sector: every sector's 80% coverage within 10 points of nominal for the champion.
    champ = read_stored(materialised_graph.storage, "champion_model")["champion"]
    per_sector = board["per_sector"]
    per_sector = per_sector[(per_sector["target"] == "bankruptcies") & (per_sector["model"] == champ)]
    assert per_sector["coverage80"].between(0.70, 0.90).all()


def test_forecasts_come_from_the_registered_champion(materialised_graph: GraphEnv) -> None:
    ahead = read_stored(materialised_graph.storage, "forecasts")
    champion = read_stored(materialised_graph.storage, "champion_model")
    assert sorted(zip(ahead["horizon"], ahead["quarter"], strict=True))[::10] == [
        (1, "2026Q4"), (2, "2027Q1"), (3, "2027Q2"), (4, "2027Q3")]  # ten sectors each
    assert (ahead["lower95"] <= ahead["lower80"]).all() and (ahead["upper80"] <= ahead["upper95"]).all()
    forecast = ahead[ahead["horizon"] == 1]  # the next quarter, with the score
    assert sorted(forecast["sector"]) == list(range(1, 11))
    assert set(forecast["quarter"]) == {"2026Q4"}
    assert (forecast["lower80"] <= forecast["prediction"]).all()
    assert (forecast["prediction"] <= forecast["upper80"]).all() and (forecast["upper80"] <= forecast["upper95"]).all()
    assert set(forecast["model_version"]) == {champion["champion_version"]}
    assert set(forecast["model"]) == {champion["champion"]}
    assert set(forecast["data_source"]) == {_source(materialised_graph)}
    # 2026's births are not published: the score is derived from a births nowcast, and says so.
    assert set(forecast["births_basis"]) == {"nowcast"}
    assert forecast["score_prediction"].between(0, 1).all()


def _copy_env(source: GraphEnv, tmp_path) -> GraphEnv:
    env = make_graph_env(tmp_path, source.url)
    shutil.copytree(source.storage, env.storage)
    copy_sqlite(source.root / "mlflow.db", tmp_path / "mlflow.db")
    artifacts = source.root / "artifacts"
    if artifacts.exists():
        shutil.copytree(artifacts, tmp_path / "artifacts")
    return env


def _run_assets(env: GraphEnv, *assets: str) -> dg.ExecuteInProcessResult:
    job = env.defs.resolve_job_def("evaluation_job")
    return job.execute_in_process(instance=env.instance, asset_selection=[dg.AssetKey(a) for a in assets])


def test_rerun_of_the_gate_does_not_register_a_new_version(materialised_graph: GraphEnv, tmp_path) -> None:
    env = _copy_env(materialised_graph, tmp_path)
    client = MlflowClient(tracking_uri=env.mlflow_uri, registry_uri=env.mlflow_uri)
    before = client.get_model_version_by_alias("sector-vitality", "champion").version
    assert _run_assets(env, "champion_model").success
    assert client.get_model_version_by_alias("sector-vitality", "champion").version == before
    assert read_stored(env.storage, "champion_model")["registration"] == "unchanged"


def test_without_significant_evidence_the_better_baseline_is_champion(
    materialised_graph: GraphEnv, tmp_path
) -> None:
    env = _copy_env(materialised_graph, tmp_path)
    board = read_stored(env.storage, "backtest_leaderboard")
    preds = board["predictions"]
    # The challengers forecast what naive forecast plus half a bankruptcy: never better than naive.
    naive = preds[preds["model"] == "naive"].set_index(["sector", "origin"])["prediction"]
    challengers = ~preds["model"].isin(["naive", "seasonal_naive"])
    keys = pd.MultiIndex.from_frame(preds.loc[challengers, ["sector", "origin"]])
    preds.loc[challengers, "prediction"] = naive.reindex(keys).to_numpy() + 0.5
    write_value(env.storage / "backtest_leaderboard" / "value", {**board, "predictions": preds})
    assert _run_assets(env, "champion_model", "forecasts").success
    gate = read_stored(env.storage, "champion_model")
    assert gate["decision"] == "baseline" and not gate["gate"]["promoted"]
    assert gate["champion"] == gate["gate"]["baseline"] in {"naive", "seasonal_naive"}
    client = MlflowClient(tracking_uri=env.mlflow_uri, registry_uri=env.mlflow_uri)
    version = client.get_model_version_by_alias("sector-vitality", "champion")
    assert version.tags["model"] == gate["champion"]  # the registry serves the better-evidenced baseline
    forecast = read_stored(env.storage, "forecasts")
    assert set(forecast["model"]) == {gate["champion"]}
    assert set(forecast["model_version"]) == {str(version.version)}


@pytest.mark.parametrize("model", ["glm", "xgboost"])
def test_refit_of_an_origin_is_deterministic(materialised_graph: GraphEnv, tmp_path, model: str) -> None:
    env = _copy_env(materialised_graph, tmp_path)
    key = origin_partitions.get_partition_keys()[4]
    before = read_stored(env.storage, f"fit_{model}", key)["predictions"]
    job = env.defs.resolve_job_def("fits_job")
    assert job.execute_in_process(
        instance=env.instance, partition_key=key, asset_selection=[dg.AssetKey(f"fit_{model}")]).success
    after = read_stored(env.storage, f"fit_{model}", key)["predictions"]
    pd.testing.assert_frame_equal(before, after)
