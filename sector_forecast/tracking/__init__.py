"""The MLflow side: runs, metrics and the model registry (`runs.py`) and the served pyfunc model (`pyfunc.py`).
Knows nothing of Dagster."""
