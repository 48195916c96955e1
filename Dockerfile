# syntax=docker/dockerfile:1.7
# One image for the five Dyade services, the migrations and the topic job: the command picks the role
# (`python -m services.<name>`, `dyade migrate`, `dyade topics --create`). See docs/operations.md.
# Pin the base by digest in your registry mirror for reproducible builds:
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:... -t dyade:<version> .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
# Dependencies first: this layer changes only when pyproject.toml does.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && pip install -r /tmp/requirements.txt
COPY README.md ./
COPY dyade ./dyade
COPY services ./services
COPY deploy/docker/healthcheck.py /opt/venv/bin/dyade-healthcheck
# The `dyade` command; the code stays in /app (migrations are found beside each service).
RUN pip install --no-deps -e . \
 && chmod 0755 /opt/venv/bin/dyade-healthcheck \
 && python -m compileall -q dyade services

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="dyade" \
      org.opencontainers.image.description="Plateforme des équipes mixtes police–intervention sociale (dyades)"
RUN groupadd --system --gid 10001 dyade \
 && useradd --system --uid 10001 --gid dyade --home-dir /var/lib/dyade --no-create-home --shell /usr/sbin/nologin dyade \
 && install -d -o dyade -g dyade -m 0750 /var/lib/dyade
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DYADE_HOST=0.0.0.0 \
    DYADE_HOME=/var/lib/dyade
WORKDIR /app
USER 10001:10001
# intake, triage, infosocial, notifier, analytics (Settings defaults)
EXPOSE 8001 8002 8003 8004 8005
VOLUME ["/var/lib/dyade"]
CMD ["dyade", "--help"]
