# syntax=docker/dockerfile:1
# Every service's image, from the repository root; the build arguments pick the service:
#   docker build --build-arg SERVICE=catalog_service --build-arg PORT=8001 \
#     -t course-portal/catalog .
# (gateway 8000, catalog_service 8001, favorites_service 8002, auth_service 8003,
# assistant_service 8004;
# docker-compose.yml passes the same arguments.)

FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml .
# Runtime dependencies only, exactly as pinned in [project].dependencies (no dev extras).
RUN python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --requirement requirements.txt

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin portal
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY service_kit/ service_kit/
# Everything above is the same layer in all four images; only what follows is the service's.
ARG SERVICE
ARG PORT
ENV SERVICE=${SERVICE} \
    PORT=${PORT}
COPY ${SERVICE}/ ${SERVICE}/
COPY deploy/gunicorn.conf.py gunicorn.conf.py
# A missing build argument fails here. Bytecode is compiled now: at run time the root
# filesystem is read-only.
RUN test -n "$SERVICE" -a -n "$PORT" -a -f "$SERVICE/__init__.py" \
 && python -m compileall -q service_kit "$SERVICE"
# Code stays owned by root: the service cannot change it.
USER 10001:10001
EXPOSE ${PORT}
# exec: gunicorn replaces the shell and receives SIGTERM itself.
CMD ["/bin/sh", "-c", "exec gunicorn --config /app/gunicorn.conf.py --no-control-socket \"$SERVICE:create_app()\""]
