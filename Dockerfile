# syntax=docker/dockerfile:1
# llm-simulator container image (docs/deployment.md).
#
#   docker build -t llm-simulator .
#   docker run --rm -p 8080:8080 llm-simulator
#   docker run --rm -p 8080:8080 -e LLM_SIMULATOR_CHAOS_PRESET=intermittent_timeouts llm-simulator
#
# Every setting is an LLM_SIMULATOR_* variable (`llm-simulator config env` lists them) or a
# config file named by LLM_SIMULATOR_CONFIG. tests/deploy/test_artifacts.py checks that every
# command, variable, port and path below exists in the code.

# -- builder: build the wheel and install it with its dependencies into a virtualenv ------------
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install /wheels/*.whl

# -- runtime: the virtualenv only, run as an unprivileged user ----------------------------------
FROM python:3.11-slim AS runtime
# A fixed uid/gid, so Kubernetes' runAsNonRoot can check it and volumes can be chowned to it.
RUN groupadd --system --gid 10001 simulator \
 && useradd --system --uid 10001 --gid simulator --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin simulator
COPY --from=builder /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LLM_SIMULATOR_HOST=0.0.0.0 \
    LLM_SIMULATOR_PORT=8080 \
    LLM_SIMULATOR_WORKERS=1 \
    LLM_SIMULATOR_DRAIN_TIMEOUT=30
USER 10001:10001
EXPOSE 8080
# Liveness with the interpreter already in the image (no curl in python:slim). /health is
# served without a key even with auth on; the port follows LLM_SIMULATOR_PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LLM_SIMULATOR_PORT', '8080') + '/health', timeout=2)"]
# SIGTERM (docker stop, Kubernetes) drains streams for LLM_SIMULATOR_DRAIN_TIMEOUT seconds,
# then exits 0: give the container more than that (docker stop -t 35, stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["llm-simulator"]
CMD ["serve"]
