"""Declarative automation: every asset below the raw tables re-runs when what it reads changed, and only then.

The raw assets carry no condition: the publication sensor (`sensors/publication.py`) requests exactly the
months and years DST published or revised. Everything downstream carries `revision_aware_eager()`, which is
Dagster's `eager()` changed where this graph needs it:

- **No `in_latest_time_window()`.** `eager()` only looks at the newest time partition, but DST revises old
  months: a revision of 2026M08 must re-run quarter 2026Q3 even when 2026Q4 exists. Here a partition runs
  when an upstream partition it maps to was updated (or it newly went missing).
- **Missing DEMO14 years and KONK4 months do not block.** `eager()` waits while any upstream partition is
  missing. The panel reads DEMO14 twelve quarters back, and DEMO14 year Y appears only in June of Y+2, so
  the latest quarters always map to unpublished years (the panel nowcasts births for them); KONK4 ended in
  2025M12 and only feeds the divergence check. Both edges load with `allow_missing_partitions`, so
  `any_deps_missing` ignores those two assets; every other missing upstream partition still blocks.
- **Collectors wait only for what can be built.** The unpartitioned assets (leaderboard, champion, forecasts)
  read every partition of their deps and take the newest from the data. In the first days of a quarter the
  new quarter's partitions exist but DST has not published its last month, so its panel, features and fits
  cannot be built; plain `any_deps_missing` would hold the collectors until DST publishes (with a stale
  snapshot, forever). They wait for a missing dep partition only when it could be materialised now (its own
  deps are present, `waiting_for_buildable_deps`), and for a dep that has nothing materialised at all.
- **The target quarter waits.** A partitioned asset still waits for every partition it maps to, and
  Dagster's conditions cannot tell an edge's offsets apart: `feature_frame` Q reads its target quarter Q+1,
  so once Q+1 exists but is unpublished, a revision of Q's months re-runs `feature_frame` Q only when Q+1
  arrives (the trigger is kept by `since_last_handled`); the fits meanwhile re-run from Q-1's rows.
- **A failed upstream blocking check stops the flow.** `~any_deps_match(any_checks_match(check_failed))`
  rather than `all_deps_blocking_checks_passed()`: the latter also demands a *passed* check from every dep,
  which a quarter after 2025Q4 cannot get from KONK4 (no partition maps to it), so it would never run.
- **Not at the tick its own run ended.** A trigger latched while a backfill's run of the partition was going is
  cleared when the tick sees the run's materialisation; a tick that saw the run end but not yet the
  materialisation would build it twice. The request waits one tick (`_own_run_just_ended`).
- **No trigger through a shortcut.** Dagster only chains requests within one tick between assets of the
  same partitions definition; across definitions (quarter -> forecast origin -> unpartitioned) the chain
  advances one tick at a time. `forecasts` reads `quarterly_panel` and `feature_frame` directly *and*
  through `champion_model`; triggered by both, it would run once on the new panel with the old champion
  and again when the champion caught up. So a dep that also reaches the asset through another dep does
  not trigger it (`shortcut_deps`); it still counts for missing, in-progress and check gating.

Conditions are keyed by group, not by asset module, so assets added later get the same condition unless they
declare their own — except the two per-origin monitoring assets, which are records of their quarter:

- **`batch_predictions` logs what is served.** Only the newest origin's partition follows a new champion
  (`newest_origin_follows_champion`): the log keeps what each earlier origin's champion served, so a new
  champion does not re-log 59 origins (and, through them, re-judge every quarter).
- **`drift_report[q]` judges q when q's counts arrive**, with the forecast made for q at q−1: it runs when the
  panel quarters it reads change (a publication or a revision) or when the forecast it judges is logged, not
  when a later champion is registered (`JUDGED_WHEN`). So a new quarter's report runs beside the new fits,
  not after them, and a UI backfill is not followed by a second pass over the reports it has just built.
"""

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from sector_forecast.defs.assets.raw import RAW_GROUP

AUTOMATION_SENSOR_NAME = "sector_forecast_automation"
OPTIONAL_UPSTREAM = dg.AssetSelection.assets("demo14_raw", "konk4_raw")


def shortcut_deps(deps: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """For each asset, the direct deps that are also ancestors of another of its direct deps."""
    memo: dict[str, set[str]] = {}

    def ancestors(key: str) -> set[str]:
        if key not in memo:
            memo[key] = set()
            for dep in deps.get(key, ()):
                memo[key] |= {dep, *ancestors(dep)}
        return memo[key]

    return {
        key: {d for d in direct if any(d in ancestors(other) for other in direct if other != d)}
        for key, direct in ((k, set(v)) for k, v in deps.items())
    }


def waiting_for_buildable_deps() -> dg.AutomationCondition:
    """For a collector: a dep partition is missing although it could be built now (its deps are present), or a
    dep has no partition materialised at all (a cold start). Unpublished quarters do not count.
    """
    missing = dg.AutomationCondition.missing() & ~dg.AutomationCondition.will_be_requested()
    inputs_missing = dg.AutomationCondition.any_deps_missing().ignore(OPTIONAL_UPSTREAM)
    buildable = dg.AutomationCondition.any_deps_match(missing & ~inputs_missing).ignore(OPTIONAL_UPSTREAM)
    empty = ~dg.AutomationCondition.all_deps_match(~missing).ignore(OPTIONAL_UPSTREAM)
    return (buildable | empty).with_label("waiting_for_buildable_deps")


def revision_aware_eager(ignore_triggers: Iterable[str] = (), collector: bool = False) -> dg.AutomationCondition:
    """`eager()` over every partition, not blocked by unpublished DEMO14 years, gated by blocking checks.

    `ignore_triggers`: deps whose updates do not trigger this asset (they reach it through another dep).
    `collector`: an unpartitioned asset reading every partition of its deps (see `waiting_for_buildable_deps`).
    """
    missing_gate = (waiting_for_buildable_deps() if collector
                    else dg.AutomationCondition.any_deps_missing().ignore(OPTIONAL_UPSTREAM))
    condition = (
        dg.AutomationCondition.eager()
        .without(dg.AutomationCondition.in_latest_time_window())
        .with_label(None)
        .replace("any_deps_missing", missing_gate)
    )
    ignored = sorted(ignore_triggers)
    if ignored:
        condition = condition.replace(
            "any_deps_updated",
            dg.AutomationCondition.any_deps_updated().ignore(dg.AssetSelection.assets(*ignored)),
        )
    return (condition & ~_blocked() & ~_own_run_just_ended()).with_label("eager_with_revisions")


def _blocked() -> dg.AutomationCondition:
    return dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.any_checks_match(dg.AutomationCondition.check_failed(), blocking_only=True)
    ).with_label("any_deps_blocking_check_failed")


def _own_run_just_ended() -> dg.AutomationCondition:
    """The partition was in progress at the previous tick and is not now: its run ended since.

    A tick reads the event log (`newly_updated`, which clears a trigger) and the runs (`in_progress`) at
    different moments. When a run ends in between, the tick sees neither the run nor its materialisation, and
    a trigger latched while the run was going requests the partition again (measured: a UI backfill's
    `fit_xgboost` and `drift_report` built twice, `docs/benchmarks.md`). The tick after sees the
    materialisation as new and clears the trigger; a run that failed is retried then, one tick later than
    Dagster's `eager()` would. Dagster's `newly_true` reads the operand over every partition, every tick.
    """
    return (~dg.AutomationCondition.in_progress()).newly_true().with_label("own_run_just_ended")


def newest_origin_follows_champion() -> dg.AutomationCondition:
    """For `batch_predictions`: the newest origin re-logs when what it reads (champion, leaderboard) changed.

    No `newly_missing` trigger: a new origin's partition appears at the quarter's end, before its fits exist,
    and is logged when the champion that serves it is registered.
    """
    return (
        dg.AutomationCondition.in_latest_time_window()
        & dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & ~_blocked()
        & ~_own_run_just_ended()
    ).with_label("newest_origin_follows_champion")


# Per-origin records (module docstring): the deps whose updates trigger them; the others only gate.
JUDGED_WHEN = {"drift_report": {"quarterly_panel", "batch_predictions"}}
OWN_CONDITIONS = {"batch_predictions": newest_origin_follows_champion}


def _deps_by_asset(assets: Sequence) -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {}
    for asset in assets:
        specs = [asset] if isinstance(asset, dg.AssetSpec) else getattr(asset, "specs", [])
        for spec in specs:
            deps[spec.key.to_user_string()] = {d.asset_key.to_user_string() for d in spec.deps}
    return deps


def with_automation(assets: Sequence) -> list:
    """Return the assets with their automation conditions attached (see module docstring).

    Raw tables get none (the publication sensor owns them); an asset that declares its own keeps it.
    """
    deps = _deps_by_asset(assets)
    shortcuts = shortcut_deps(deps)

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        name = spec.key.to_user_string()
        if spec.group_name == RAW_GROUP or spec.automation_condition is not None:
            return spec
        if name in OWN_CONDITIONS:
            return spec.replace_attributes(automation_condition=OWN_CONDITIONS[name]())
        quiet = deps[name] - JUDGED_WHEN[name] if name in JUDGED_WHEN else shortcuts.get(name, ())
        condition = revision_aware_eager(quiet, collector=spec.partitions_def is None)
        return spec.replace_attributes(automation_condition=condition)

    out = []
    for asset in assets:
        if isinstance(asset, dg.AssetsDefinition) and not isinstance(asset, dg.AssetChecksDefinition):
            out.append(asset.map_asset_specs(attach))
        elif isinstance(asset, dg.AssetSpec):
            out.append(attach(asset))
        else:
            out.append(asset)
    return out


AUTOMATION_SENSORS: list[dg.AutomationConditionSensorDefinition] = [
    dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        # Each hop of a new month's chain (month -> quarter -> origin -> unpartitioned) waits for a tick, so the
        # tick is short: an evaluation of the graph's ~20 conditions takes well under a second when nothing
        # changed (docs/benchmarks.md), and a release day has only a handful of hops. 4, not 5: Dagster's asset
        # daemon wakes every 5 s, and a sensor is due once this many seconds have passed since its last tick
        # began; at 5, every wake-up that came a hair early was skipped, so ticks came every 5 or 10 s (a third
        # of the wake-ups, measured). At 4 every wake-up ticks: every 5 s.
        minimum_interval_seconds=4,
        # Several partitions of one asset in a tick become one asset backfill, which keeps dependency
        # order and honours the single-run backfill policies (one run per stage, not per quarter).
        emit_backfills=True,
        description="Evaluates every asset's automation condition: carries new and revised raw partitions "
        "to panel, features, fits, leaderboard, champion, forecasts and monitoring.",
    )
]
