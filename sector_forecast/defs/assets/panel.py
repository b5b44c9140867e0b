"""The `panel` group: bankruptcies and births per sector and quarter, partitioned by quarter.

A thin wrapper over `domain.panel`: load the raw partitions the partition mappings hand over, call the pure
functions, attach the contract and UI metadata (coverage, column lineage, KONK4/KONK25 divergence).
"""


from collections.abc import Iterator

import dagster as dg
import pandas as pd

from sector_forecast.contracts import inputs as contracts
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.metadata import (
    column_lineage_metadata,
    coverage_metadata,
    frame_metadata,
    markdown_table,
    number,
)
from sector_forecast.defs.partitions import (
    month_key_to_period,
    period_to_month_key,
    quarter_key_to_label,
    quarter_label_to_key,
    quarterly_partitions,
)
from sector_forecast.domain import features, panel, score
from sector_forecast.domain.score import SCORE_FORMULA_MD
from sector_forecast.domain.sectors import KONK4_TO_SECTOR, KONK25_TO_SECTOR

PANEL_GROUP = "panel"
DIVERGENCE_TOLERANCE = 0.25  # KONK25 reclassified some industries (e.g. car trade G -> STUV)


def _quarter_bankruptcies(
    months: dict[str, pd.DataFrame], quarter: str, code_col: str, mapping: dict[str, int]
) -> pd.DataFrame:
    frames = [months.get(period_to_month_key(m)) for m in panel.quarter_months(quarter)]
    return panel.quarterly_bankruptcies([f for f in frames if f is not None], code_col, mapping, quarter=quarter)


@dg.asset(
    description=(
        "One row per (sector 1–10, quarter): KONK25 bankruptcies of active enterprises summed over the "
        "quarter's three months and mapped onto the ten DB07 sectors, KONK4's figure where it still exists "
        "(for the divergence check), DEMO14 births spread evenly over the year's quarters (or a flagged "
        "nowcast while DST has not published the year), and the Sector Vitality Score.\n\n" + SCORE_FORMULA_MD
    ),
    group_name=PANEL_GROUP,
    partitions_def=quarterly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="parquet_io_manager",
    kinds={"pandas", "parquet"},
    ins={
        # The score ranks a quarter's four-quarter balance within the sector's preceding SCORE_WINDOW balances,
        # each summing its quarter and the three before: SCORE_LOOKBACK quarters of counts, read them all so that
        # a single-quarter re-run scores as a full-range run does.
        "konk25_raw": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-score.SCORE_LOOKBACK, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing_partitions": True},
        ),
        "konk4_raw": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True),
            metadata={"allow_missing_partitions": True},
        ),
        # Births of year Y, or a nowcast from the last three published years. DST lags up to ~2.5 years, so
        # those can start six years back: read 28 quarters of DEMO14 years, so that a single-quarter re-run
        # nowcasts from the same years as a full-range run.
        "demo14_raw": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-28, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing_partitions": True},
        ),
    },
    check_specs=[
        contract_spec("quarterly_panel"),
        dg.AssetCheckSpec(
            name="konk4_konk25_divergence", asset="quarterly_panel",
            description="KONK4 (DB07) vs KONK25 (DB25) bankruptcies per sector over their overlap (to 2025Q4).",
        ),
    ],
    code_version="1",
)
def quarterly_panel(
    context: dg.AssetExecutionContext,
    konk25_raw: dict[str, pd.DataFrame],
    konk4_raw: dict[str, pd.DataFrame],
    demo14_raw: dict[str, pd.DataFrame],
) -> Iterator:
    births_by_year = {int(year): frame for year, frame in demo14_raw.items()}
    wanted = [quarter_key_to_label(key) for key in context.partition_keys]
    for quarter in wanted:
        missing = [period_to_month_key(m) for m in panel.quarter_months(quarter)
                   if period_to_month_key(m) not in konk25_raw]
        if missing:
            raise dg.Failure(
                f"quarterly_panel {quarter}: konk25_raw partition {', '.join(missing)} is not materialised "
                "(month not published yet, or its contract failed) — the quarter is not materialised."
            )
    # The requested quarters and the complete quarters before them that the score's history needs.
    loaded = sorted({panel.month_quarter(month_key_to_period(k)) for k in konk25_raw})
    history = [q for q in loaded if q <= wanted[-1] and all(
        period_to_month_key(m) in konk25_raw for m in panel.quarter_months(q))]
    rows = []
    for quarter in history:
        bankruptcies = _quarter_bankruptcies(konk25_raw, quarter, "branche25", KONK25_TO_SECTOR)
        try:
            konk4 = _quarter_bankruptcies(konk4_raw, quarter, "branche", KONK4_TO_SECTOR)
        except ValueError:
            konk4 = None  # KONK4 closed at 2025M12: no comparison figure for later quarters
        known = {y: f for y, f in births_by_year.items() if y <= panel.quarter_year(quarter)}
        rows.append(panel.build_panel(bankruptcies, panel.quarterly_births(known, quarter), konk4))
    scored = score.panel_scores(pd.concat(rows, ignore_index=True))[panel.PANEL_COLUMNS]
    parts = {
        quarter_label_to_key(q): part.reset_index(drop=True)
        for q, part in scored[scored["quarter"].isin(wanted)].groupby("quarter", sort=True)
    }
    frame = pd.concat(parts.values(), ignore_index=True)
    nowcast_quarters = sorted(frame.loc[frame["births_provenance"] == "nowcast", "quarter"].unique())
    if nowcast_quarters:
        context.log.info(f"births nowcast (DEMO14 not yet published) for {nowcast_quarters[0]}..{nowcast_quarters[-1]}")
    yield from checked_output(
        "quarterly_panel", parts, frame, contracts.PANEL_SCHEMA,
        metadata=frame_metadata(
            frame, **coverage_metadata(frame),
            **column_lineage_metadata(features.PANEL_LINEAGE),
            score_formula=dg.MetadataValue.md(SCORE_FORMULA_MD),
        ),
        partition_metadata=lambda key, rows: coverage_metadata(rows),
        shared={"score_formula"},
    )
    yield divergence_result(frame)


def divergence_result(frame: pd.DataFrame) -> dg.AssetCheckResult:
    """Report the KONK4/KONK25 divergence per sector; WARN (not fail) beyond the tolerance.

    Quarters after KONK4 closed (2025M12) have no KONK4 figure: a run of only those has nothing to compare, and
    says so with a WARN that names the reason (`applicable` false) — never a pass it did not earn. Dagster runs
    a declared check spec of a non-subsettable asset in every run, so "skipped" is not available here.
    """
    table = panel.konk_divergence(frame)
    compared = table[table["n_quarters"] > 0]
    applicable = len(compared) > 0
    worst = float(compared["relative_divergence"].abs().max()) if applicable else float("nan")
    quarters = sorted(frame["quarter"].unique())
    span = f"{quarters[0]}..{quarters[-1]}" if quarters else "-"
    metadata = {
        "applicable": dg.MetadataValue.bool(applicable),
        "quarters_compared": dg.MetadataValue.int(int(compared["n_quarters"].max()) if applicable else 0),
        "tolerance": number(DIVERGENCE_TOLERANCE),
    }
    if applicable:
        metadata["max_abs_relative_divergence"] = number(worst)
        metadata["per_sector"] = dg.MetadataValue.md(markdown_table(table))
    return dg.AssetCheckResult(
        check_name="konk4_konk25_divergence", asset_key="quarterly_panel",
        passed=applicable and worst <= DIVERGENCE_TOLERANCE, severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=(
            f"not applicable: nothing to compare — KONK4 (closed after 2025M12) has no figures for {span}"
            if not applicable
            else f"largest per-sector divergence {worst:.1%} (tolerance {DIVERGENCE_TOLERANCE:.0%}); KONK25 "
            "moved car trade into STUV and property development into M, so those sectors differ by design"
        ),
    )
