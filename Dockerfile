# syntax=docker/dockerfile:1
# One image for the whole sector_forecast deployment: the user-code gRPC server, dagster-webserver,
# dagster-daemon and the MLflow tracking server (deploy/docker-compose.yml picks the command per service;
# the Helm chart does the same with codeServerArgs). One image means the webserver, the daemon and the runs
# can never disagree about Dagster versions.
#
#   docker build -t sector-forecast:local .
#
# Built and run for real by sector_forecast_tests/deploy/test_deploy_image.py, with podman and no Docker engine:
#   podman build --isolation chroot --build-arg PYTHON_IMAGE=localhost/bookworm-python:3.11 -t ... .
# (a Debian 12 base made by mmdebstrap, passed through the ARG below; see docs/deployment.md).

# Pinned to an exact Python patch release on Debian 12, the system the project is tested on. For fully
# reproducible builds also pin the digest: `docker buildx imagetools inspect python:3.11.14-slim-bookworm`
# and append `@sha256:...` here. Any Debian 12 image whose `python` is 3.11 with `venv` works as a
# replacement (the image test passes one made from Debian's own packages).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home

# A fixed, unprivileged user: every service runs as it (no process in the image needs root).
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --shell /usr/sbin/nologin dagster \
    && python -m venv /opt/venv

WORKDIR /opt/dagster/app

# Dependencies first, in their own layer, so editing the code does not reinstall them: every package of the
# runtime and the `postgres` extra, exactly as locked by uv with hashes (docs/dependencies.md says how to
# regenerate the lock); pip refuses any file whose hash differs.
COPY deploy/requirements.lock ./
RUN pip install --require-hashes --no-deps --requirement requirements.lock

# The code, the bundled StatBank snapshot and the deployment files. An editable install keeps the code in
# /opt/dagster/app, where the package expects data/statbank (the offline snapshot) to sit beside it.
COPY pyproject.toml README.md ./
COPY sector_forecast ./sector_forecast
COPY data ./data
COPY deploy ./deploy
RUN pip install --no-deps --editable . \
    && mkdir -p "$DAGSTER_HOME/storage" /opt/dagster/mlflow-artifacts \
    && cp deploy/dagster.postgres.yaml "$DAGSTER_HOME/dagster.yaml" \
    && chown -R dagster:dagster /opt/dagster

USER dagster:dagster

# 4000 code server, 3000 webserver, 5000 MLflow (each service opens one).
EXPOSE 4000 3000 5000

# The code server by default; compose and Helm override the command for the other services.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "sector_forecast.defs.definitions", "--location-name", "sector_forecast"]
