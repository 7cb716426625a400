# paperboy in a container: `docker compose up` (compose.yaml) or
#   docker build -t paperboy . && docker run --env-file .env paperboy
#
# Two stages: the first builds a virtualenv with paperboy and its runtime dependencies
# (no test or lint tools); the second copies it onto a clean base and runs it as a
# non-root user. BASE is any image with Python 3.11+ and its venv module: the slim
# official image by default; where no registry is reachable, one made from Debian
# packages (docs/operations.md, "Building without a registry").
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# Where a proxy re-signs TLS, pip must trust the system's CA bundle, not its own.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/paperboy
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
COPY config ./config
RUN /opt/paperboy/bin/pip install --quiet . \
    && /opt/paperboy/bin/paperboy --help >/dev/null

FROM ${BASE}
ENV PATH=/opt/paperboy/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PAPERBOY_DATABASE_URL=sqlite+aiosqlite:////data/paperboy.db \
    PAPERBOY_METRICS_PORT=9100
RUN useradd --user-group --uid 10001 --home-dir /data --create-home --shell /usr/sbin/nologin paperboy
COPY --from=build /opt/paperboy /opt/paperboy
USER paperboy
WORKDIR /data
VOLUME ["/data"]
# 3000: Slack's HTTP mode (`serve`); 9100: /healthz, /readyz, /metrics.
EXPOSE 3000 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PAPERBOY_METRICS_PORT', '9100'), timeout=4)"]
ENTRYPOINT ["paperboy"]
CMD ["run", "--no-console"]
