# The Aragora backend image: `aragora serve` by default, and every other `aragora` command
# (`worker`, `migrate`, `maintenance`, `tokens`, ...) as its arguments.
#
#   docker build -f deploy/docker/backend.Dockerfile -t aragora-backend:0.1.0 .
#   docker run --rm -p 8080:8080 -e ARAGORA_ADMIN_TOKEN=... aragora-backend:0.1.0
#
# The build context is the repository root (.dockerignore keeps it to pyproject.toml,
# uv.lock, README.md, src/, web/ and deploy/docker/).
#
# Build arguments:
#   BASE_IMAGE   a Debian-like image with Python 3.11+ as `python3`, its venv module, a
#                shell and useradd (python:3.11-slim-bookworm has all of them)
#   NODE_IMAGE   Node.js 20+ with npm, used only when the context has web/package.json
#   UV_VERSION   the uv that reads uv.lock (the one scripts/bootstrap pins)
#   VERSION      the version written into the image labels
#
# Stages: `ui` builds the web app (web/ -> web/dist) when the context has one; `build`
# installs the locked runtime dependencies and the wheel (with the UI inside) into the
# virtual environment /opt/aragora; the final stage is BASE_IMAGE plus that environment
# and an unprivileged user: no compiler, no uv, no pip or npm cache, no source tree.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- ui: the web app, when there is one -------------------------------------------------------
FROM ${NODE_IMAGE} AS ui
WORKDIR /src
COPY . .
# Built only when web/ exists: the wheel takes web/dist when it is there, and a backend
# without a UI is still a complete API server.
RUN if [ -f web/package.json ]; then \
        npm --prefix web ci --no-audit --no-fund \
        && npm --prefix web run build \
        && rm -rf web/node_modules; \
    else \
        echo "no web/package.json in the build context: building the backend without a UI"; \
        mkdir -p web/dist; \
    fi

# --- build: locked dependencies, then the wheel -----------------------------------------------
FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.9
# UV_SYSTEM_CERTS: trust the image's CA store, as scripts/bootstrap does, so a build behind
# a TLS-inspecting proxy works once the base trusts its certificate.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_SYSTEM_CERTS=1
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# The runtime dependencies exactly as uv.lock pins them (no dev group), before the source,
# so that a source change does not reinstall them.
RUN --mount=type=cache,target=/root/.cache/uv \
    UV_PROJECT_ENVIRONMENT=/opt/aragora /opt/uv/bin/uv sync \
        --locked --no-dev --no-install-project --python "$(command -v python3)"
COPY src/ src/
COPY --from=ui /src/web/ web/
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv build --wheel --out-dir /tmp/wheel --python "$(command -v python3)" \
    && /opt/uv/bin/uv pip install --python /opt/aragora/bin/python --no-deps /tmp/wheel/*.whl \
    && /opt/aragora/bin/aragora --help > /dev/null

# --- runtime ------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="aragora-backend" \
      org.opencontainers.image.description="Aragora: multi-agent deliberation service (API, WebSocket, debate workers)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
# A fixed uid/gid (10001) that Kubernetes' runAsUser and the Compose file name. The data
# directory is the only place the process writes; it must be a volume (or an emptyDir)
# when the root filesystem is read-only.
RUN groupadd --gid 10001 aragora \
    && useradd --no-log-init --uid 10001 --gid 10001 --home-dir /var/lib/aragora \
        --no-create-home --shell /usr/sbin/nologin aragora \
    && mkdir -p /var/lib/aragora /etc/aragora/keys \
    && chown 10001:10001 /var/lib/aragora \
    && chmod 0750 /var/lib/aragora
COPY --from=build /opt/aragora /opt/aragora
# ARAGORA_HOST 0.0.0.0: reachable from outside the container, which turns authentication on
# (give the server ARAGORA_ADMIN_TOKEN). JSON logs, one object per line, for the
# collector. PYTHONDONTWRITEBYTECODE: the root filesystem may be read-only (the
# bytecode was compiled at build time).
ENV PATH="/opt/aragora/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ARAGORA_HOST=0.0.0.0 \
    ARAGORA_PORT=8080 \
    ARAGORA_DATA_DIR=/var/lib/aragora \
    ARAGORA_LOG_FORMAT=json
WORKDIR /var/lib/aragora
USER 10001:10001
EXPOSE 8080
# SIGTERM drains: readiness turns 503, running debates get ARAGORA_SHUTDOWN_GRACE seconds.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('ARAGORA_PORT', '8080'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["aragora"]
CMD ["serve"]
