"""Sensors and schedules: DST publications, drift-driven retraining, the quarterly safety net."""

from sector_forecast.defs.freshness import dst_freshness_sensor
from sector_forecast.defs.sensors.publication import statbank_publication_sensor
from sector_forecast.defs.sensors.retrain import drift_retrain_sensor
from sector_forecast.defs.sensors.schedules import demo14_yearly_safety_net, quarterly_safety_net

SENSORS: list = [statbank_publication_sensor, dst_freshness_sensor, drift_retrain_sensor]
SCHEDULES: list = [quarterly_safety_net, demo14_yearly_safety_net]
