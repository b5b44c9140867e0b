"""The MLflow side: runs, metrics and the model registry (`runs.py`) and the served pyfunc model (`pyfunc.py`).
Knows nothing of Dagster."""

import logging

# MLflow's set-up chatter at INFO: "Creating initial MLflow database tables..." once per new tracking store
# (`mlflow.store.db.utils`) and "Validating input example against model signature" once per logged model
# (`mlflow.pyfunc`). Their warnings and errors still show.
CHATTY_MLFLOW_LOGGERS = ("mlflow.store.db.utils", "mlflow.pyfunc")


class _WarningsAndAbove(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def quiet_mlflow_setup_logs() -> None:
    """Hold MLflow's set-up loggers at WARNING, wherever this package is imported (CLI, code server, run worker).

    A filter rather than only `setLevel`: importing `mlflow` runs `logging.config.dictConfig` on the `mlflow`
    logger, which resets the level of every existing child logger to NOTSET (the standard library's
    `_handle_existing_loggers`) but keeps its filters — and our modules import `mlflow` lazily, after this.
    """
    for name in CHATTY_MLFLOW_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, _WarningsAndAbove) for f in logger.filters):
            logger.addFilter(_WarningsAndAbove())


quiet_mlflow_setup_logs()
