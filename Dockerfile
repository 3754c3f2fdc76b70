# Relais in a container: `relais run` migrates the database, then runs the bot.
# SQLite on the /data volume by default; docker-compose.yml runs it with PostgreSQL instead.
#   docker build -t relais .
#   docker run -d --env-file .env -v relais-data:/data relais        (a named volume)
#   docker run -d --env-file .env -v "$PWD/data:/data" relais        (or a host folder)
# Without Docker Hub: BASE=any Debian-based image with python3 >= 3.11, pip and venv, e.g.
#   scripts/docker-base-image && docker build --build-arg BASE=local/python:3.11-bookworm -t relais .
# Settings come from the environment (--env-file, compose's env_file). See docs/operations.md.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/relais/bin:$PATH \
    DATABASE_URL=sqlite+aiosqlite:////data/relais.db \
    HEALTH_PORT=8080

# The bot runs as `relais` (uid 10001); the entrypoint starts as root only to hand /data
# to it (a host folder mounted there belongs to the host's user), then drops privileges.
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin relais \
    && mkdir /data \
    && chown relais:relais /data \
    && python3 -m venv /opt/relais

WORKDIR /app
# 1. Dependencies, at the versions of constraints.txt: this layer is rebuilt only when
#    pyproject.toml or constraints.txt change, not at every code change.
COPY pyproject.toml constraints.txt ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt setuptools \
    && rm /tmp/requirements.txt

# 2. The code. Editable on purpose: it reads migrations/, alembic.ini and content/ from the
#    source tree next to it (/app), which a plain `pip install .` would leave behind.
COPY . /app
RUN pip install --no-deps --no-build-isolation -e /app \
    && python -m compileall -q /app/bot /app/handlers /app/migrations \
    && install -m 0755 docker/entrypoint.sh /usr/local/bin/relais-entrypoint

# Relative paths (`relais backup --out relais-backup.db`) land in the volume. The bot reads
# its settings from the environment; a /data/.env is read too if present (see operations.md).
WORKDIR /data
VOLUME ["/data"]
# PORT (webhook mode, behind a reverse proxy) and HEALTH_PORT (GET /healthz, both modes).
EXPOSE 8443 8080

# /healthz answers 200 only when the database answers, the Bot API answered recently and the
# delivery engine is alive; otherwise 503 with the reasons (bot/health.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '8080'), timeout=4)"]

# docker stop sends SIGTERM: the bot stops polling, hands back its claims and exits within 5 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["relais-entrypoint"]
# Migrates first (nothing to do when up to date), then polls, or serves the webhook when
# WEBHOOK_URL is set.
CMD ["relais", "run"]
