# syntax=docker/dockerfile:1
# aom-bot image: `docker build -t aom-bot:0.1.0 .` from the repository root; see docs/deploy.md.
# Build stage: install aom-bot (with the PostgreSQL driver) into a virtualenv, then drop pip
# and setuptools from it: the bot needs neither at run time.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY aom_bot ./aom_bot
RUN python -m venv /opt/aom-bot \
    && /opt/aom-bot/bin/pip install --no-cache-dir ".[postgres]" \
    && /opt/aom-bot/bin/pip uninstall --yes pip setuptools

# Final stage: the interpreter, that virtualenv and an unprivileged user; nothing is built here.
FROM python:3.11-slim-bookworm
# The base image's own pip, setuptools and wheel are not needed to run the bot: remove them.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 aom-bot \
    && useradd --system --uid 10001 --gid aom-bot --home-dir /var/lib/aom-bot \
       --create-home --shell /usr/sbin/nologin aom-bot
COPY --from=build /opt/aom-bot /opt/aom-bot
ENV PATH=/opt/aom-bot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AOM_BOT_STATE_DIR=/var/lib/aom-bot \
    AOM_BOT_LOG_FORMAT=json
WORKDIR /var/lib/aom-bot
# numeric, so that Kubernetes can verify runAsNonRoot
USER 10001:10001
# 8080 in both modes: HTTP mode serves Slack, /healthz and /metrics on --port (set to 8080
# below); Socket Mode serves /healthz and /metrics on --health-port (8080 by default).
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
# `docker run IMAGE --mode http` appends to this; a later `--port N` overrides the 8080.
ENTRYPOINT ["aom-bot", "run", "--port", "8080"]
