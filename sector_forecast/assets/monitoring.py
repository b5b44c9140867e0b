"""Monitoring assets (drift report, batch predictions): filled in by the monitoring work."""

MONITORING_ASSETS: list = []
MONITORING_CHECKS: list = []
