"""Every partitions definition of the graph, defined once and imported everywhere.

Keys: months and quarters are `YYYY-MM-DD` window starts (2024Q1 is `2024-01-01`), years are `YYYY`.
Only completed windows exist, so the newest partition is always a period DST could have published.
"""

from __future__ import annotations

import dagster as dg

HISTORY_START = "2009-01-01"

# KONK25 (DB25) is alive and publishes a month about a week after it ends.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=HISTORY_START)

# KONK4 (DB07) was closed on 2026-01-07: its last period is 2025M12.
konk4_monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=HISTORY_START, end_date="2026-01-01")

# DEMO14 was rebuilt from 2019; year Y is published around June of Y+2.
yearly_partitions = dg.TimeWindowPartitionsDefinition(
    start="2019", cron_schedule="0 0 1 1 *", fmt="%Y", timezone="UTC"
)

# The quarterly panel and features keep the whole KONK history (2009 on); the reference design dropped it.
quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    start=HISTORY_START, cron_schedule="0 0 1 */3 *", fmt="%Y-%m-%d", timezone="UTC"
)

# Forecast origins: the first origin with two years of score history (DEMO14 births start in 2019).
FIRST_ORIGIN = "2021-01-01"
origin_partitions = dg.TimeWindowPartitionsDefinition(
    start=FIRST_ORIGIN, cron_schedule="0 0 1 */3 *", fmt="%Y-%m-%d", timezone="UTC"
)


def month_key_to_period(key: str) -> str:
    """`2024-01-01` -> `2024M01` (DST's month code)."""
    return f"{key[:4]}M{key[5:7]}"


def period_to_month_key(period: str) -> str:
    """`2024M01` -> `2024-01-01`."""
    return f"{period[:4]}-{period[5:7]}-01"


def quarter_key_to_label(key: str) -> str:
    """`2024-04-01` -> `2024Q2`."""
    return f"{key[:4]}Q{(int(key[5:7]) - 1) // 3 + 1}"


def quarter_label_to_key(label: str) -> str:
    """`2024Q2` -> `2024-04-01`."""
    return f"{label[:4]}-{(int(label[5]) - 1) * 3 + 1:02d}-01"
