"""Sensors and schedules: DST publications, drift-driven retraining, the quarterly safety net."""

SENSORS: list = []
SCHEDULES: list = []
