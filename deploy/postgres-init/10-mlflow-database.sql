-- Run once by the official postgres image on an empty data directory (docker-entrypoint-initdb.d):
-- MLflow's tracking store and model registry live in their own database beside Dagster's.
CREATE DATABASE mlflow;
