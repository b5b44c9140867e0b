"""Raw StatBank tables as partitioned assets: KONK4 and KONK25 by month, DEMO14 by year.

Each run fetches its whole partition range in one BULK request (a single-run backfill over 200 months is
one HTTP call), splits it per partition, and runs the table's Pandera contract as a blocking check: a
partition that breaks it fails the run, so nothing downstream is built from it. Each month's (year's) page
shows its own row count, preview and suppressed cells; the run's range and totals are labelled `run/…`
(see `checked_output`).
"""


from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd

from sector_forecast.contracts import inputs as contracts
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.metadata import frame_metadata, number
from sector_forecast.defs.partitions import (
    konk4_monthly_partitions,
    month_key_to_period,
    monthly_partitions,
    yearly_partitions,
)
from sector_forecast.defs.resources import StatBankResource
from sector_forecast.domain import sectors
from sector_forecast.statbank import StatBankClient, StatBankError
from sector_forecast.statbank.snapshot import read_provenance

RAW_GROUP = "raw"


def _counts(values: pd.Series) -> pd.Series:
    """Integral counts as nullable Int64; anything else stays float so the contract names the bad rows."""
    numeric = pd.to_numeric(values, errors="coerce")
    finite = numeric.dropna()
    if (finite == finite.round()).all():
        return numeric.astype("Int64")
    return numeric.astype("float64")


def source_metadata(client: StatBankClient, table: str, meta: dict) -> dict:
    """Where the rows came from and how real they are: shown on every raw materialisation.

    True of every partition a run fetches (one request, one table state), so passed as `shared` to
    `checked_output`: these entries are not labelled `run/` in a single-run backfill.
    """
    md: dict = {
        "source": dg.MetadataValue.text(client.source),
        "table_updated": dg.MetadataValue.text(str(meta.get("updated"))),
        "table_latest_period": dg.MetadataValue.text(str(meta.get("latestPeriod"))),
        "table_active": dg.MetadataValue.bool(bool(meta.get("active", True))),
    }
    if not client.is_snapshot:
        md["source_url"] = dg.MetadataValue.url(f"{client.source.rstrip('/')}/tableinfo/{table}?lang=en")
    md["provenance"] = dg.MetadataValue.md(provenance_markdown(client, table))
    for selection, label in (("all", "table_cells"), ("model", "modelled_cells")):
        for status, share in provenance_shares_of(client, table, selection).items():
            # Four decimals, not the usual three: the bundled snapshot's real share of KONK25 cells is ~0.3%.
            md[f"{label}_{status}_share"] = number(share, digits=4)
    return md


def provenance_shares_of(client: StatBankClient, table: str, selection: str) -> dict[str, float]:
    """Real / approximate / synthetic shares of the table's cells (`all`) or of those the models read."""
    return client.provenance_shares([table], selection)[table]


def suppressed_metadata(_key: str, frame: pd.DataFrame) -> dict:
    """Cells DST shows as `..`: per partition, and for the run (as `run/suppressed_cells`) when it spans several."""
    return {"suppressed_cells": dg.MetadataValue.int(int(frame["suppressed"].sum()))}


def provenance_markdown(client: StatBankClient, table: str) -> str:
    """How real the rows are: the snapshot's provenance file or the server's, or DST's API (all real)."""
    served = None if client.is_snapshot else client.provenance_rows([table])
    if not client.is_snapshot and served is None:
        return f"**real** — read from the live StatBank API at {client.source}."
    rows = [r for r in (served if served is not None else read_provenance(Path(client.snapshot_dir)))
            if r.get("table") == table]
    if not rows:
        return "**unknown** — the snapshot has no provenance rows for this table."
    frame = pd.DataFrame(rows)
    statuses = ", ".join(sorted(frame["status"].unique())) if "status" in frame else "?"
    return (
        f"**Bundled snapshot ({statuses})** — reconstructed offline; see `data/README.md`. "
        "Synthetic rows are generated, approximate rows are read off DST charts.\n\n"
        + frame.to_markdown(index=False)
    )


@contextmanager
def statbank_failures() -> Iterator[None]:
    """StatBank errors become a one-line `Failure` naming table and cause, not a stack trace."""
    try:
        yield
    except StatBankError as err:
        raise dg.Failure(description=str(err)) from err


def _unpublished(periods: list[str], latest: str, table: str, rhythm: str) -> None:
    missing = [p for p in periods if p > latest]
    if missing:
        raise dg.Failure(
            f"{table}: {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''} not published yet "
            f"(latest period {latest}; {rhythm}) — nothing materialised for "
            f"{'them' if len(missing) > 1 else 'it'}."
        )


def _konk_asset(table: str, code_var: str, partitions_def: dg.PartitionsDefinition, description: str):
    code_col = code_var.lower()
    codes = sectors.KONK4_BRANCHE_CODES if table == "KONK4" else sectors.KONK25_BRANCHE25_CODES
    name = f"{table.lower()}_raw"

    @dg.asset(
        name=name,
        description=description,
        group_name=RAW_GROUP,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="parquet_io_manager",
        kinds={"pandas", "parquet"},
        check_specs=[contract_spec(name)],
        code_version="1",
    )
    def _asset(context: dg.AssetExecutionContext, statbank: StatBankResource) -> Iterator:
        client = statbank.get_client()
        keys = context.partition_keys
        periods = [month_key_to_period(k) for k in keys]
        with statbank_failures():
            meta = client.table_meta(table)
            _unpublished(periods, meta["latestPeriod"], table, "DST publishes a month about a week after it ends")
            frame = client.data(
                table,
                {code_var: ["*"], "VIRKTYP1": [sectors.ACTIVE_ENTERPRISES], "Tid": [f">={periods[0]}<={periods[-1]}"]},
            )
        frame = pd.DataFrame(
            {
                code_col: frame[code_var].astype(str),
                "virktyp1": frame["VIRKTYP1"].astype(str),
                "period": frame["TID"].astype(str),
                "bankruptcies": _counts(frame["INDHOLD"]),
                "suppressed": frame["suppressed"].astype(bool),
            }
        )
        parts = {key: frame[frame["period"] == p].reset_index(drop=True) for key, p in zip(keys, periods, strict=True)}
        context.log.info(f"{table}: {len(frame)} rows for {periods[0]}..{periods[-1]} from {client.source}")
        source = source_metadata(client, table, meta)
        yield from checked_output(
            name, parts, frame, contracts.konk_raw_schema(code_col, codes, periods),
            metadata=frame_metadata(
                frame, periods=dg.MetadataValue.text(f"{periods[0]}..{periods[-1]}"),
                **suppressed_metadata(keys[0], frame), **source,
            ),
            shared=source, partition_metadata=suppressed_metadata,
        )

    return _asset


konk4_raw = _konk_asset(
    "KONK4", "BRANCHE", konk4_monthly_partitions,
    "KONK4: declared bankruptcies of active enterprises (VIRKTYP1=K02) by DB07 industry, one month per "
    "partition. DST closed the table on 2026-01-07 (last period 2025M12); KONK25 continues it.",
)
konk25_raw = _konk_asset(
    "KONK25", "BRANCHE25", monthly_partitions,
    "KONK25: declared bankruptcies of active enterprises (VIRKTYP1=K02) by DB25 industry group, one month "
    "per partition, history recomputed back to 2009M01. The live source of the quarterly panel.",
)


@dg.asset(
    description="DEMO14: business demography (REGION=000, all DB07 groups, all measures: NYE new enterprises, "
    "OPH ceased, AFU FTE in new enterprises, OMS turnover), one year per partition. Year Y is published "
    "around June of Y+2.",
    group_name=RAW_GROUP,
    partitions_def=yearly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="parquet_io_manager",
    kinds={"pandas", "parquet"},
    check_specs=[contract_spec("demo14_raw")],
    code_version="1",
)
def demo14_raw(context: dg.AssetExecutionContext, statbank: StatBankResource) -> Iterator:
    client = statbank.get_client()
    years = list(context.partition_keys)
    with statbank_failures():
        meta = client.table_meta("DEMO14")
        _unpublished(years, meta["latestPeriod"], "DEMO14", "year Y is published around June of Y+2")
        frame = client.data(
            "DEMO14",
            {"REGION": ["000"], "BRANCHEDB0710": ["*"], "MÆNGDE4": ["*"], "Tid": [f">={years[0]}<={years[-1]}"]},
        )
    frame = pd.DataFrame(
        {
            "region": frame["REGION"].astype(str),
            "branchedb0710": frame["BRANCHEDB0710"].astype(str),
            "maengde4": frame["MÆNGDE4"].astype(str),
            "period": frame["TID"].astype(str),
            "value": pd.to_numeric(frame["INDHOLD"], errors="coerce").astype("float64"),
            "suppressed": frame["suppressed"].astype(bool),
        }
    )
    parts = {year: frame[frame["period"] == year].reset_index(drop=True) for year in years}
    context.log.info(f"DEMO14: {len(frame)} rows for {years[0]}..{years[-1]} from {client.source}")
    source = source_metadata(client, "DEMO14", meta)
    yield from checked_output(
        "demo14_raw", parts, frame, contracts.demo14_raw_schema(years),
        metadata=frame_metadata(frame, years=dg.MetadataValue.text(f"{years[0]}..{years[-1]}"),
                                **suppressed_metadata(years[0], frame), **source),
        shared=source, partition_metadata=suppressed_metadata,
    )


RAW_ASSETS: list[Callable] = [konk4_raw, konk25_raw, demo14_raw]
