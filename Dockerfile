# Relais in a container: `relais run` migrates the database, then runs the bot.
# SQLite on the /data volume by default; docker-compose.yml runs it with PostgreSQL instead.
#   docker build -t relais .
#   docker run -d --env-file .env -v relais-data:/data relais
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/relais.db \
    HEALTH_PORT=8080

RUN useradd --create-home --uid 10001 relais \
    && mkdir /data \
    && chown relais:relais /data

WORKDIR /app
COPY . /app
# Editable install on purpose: the code reads migrations/, alembic.ini and content/ from
# the source tree next to it (/app), which a plain `pip install .` would leave behind.
RUN pip install -e /app

USER relais
# Relative paths (a backup written with `relais backup --out relais-backup.db`) land in the volume.
WORKDIR /data
VOLUME ["/data"]
# PORT (webhook mode, behind a reverse proxy) and HEALTH_PORT (GET /healthz, both modes).
EXPOSE 8443 8080

# /healthz answers 200 when the bot receives updates and its database answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '8080'), timeout=4)"]

# Migrates first (nothing to do when up to date), then polls, or serves the webhook when
# WEBHOOK_URL is set. SIGTERM (docker stop) stops it cleanly.
CMD ["relais", "run"]
