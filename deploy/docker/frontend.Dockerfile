# The Aragora frontend image: nginx serving the built web app and proxying the API
# (/api/...), the WebSocket (/ws) and every other path to the backend.
#
#   docker build -f deploy/docker/frontend.Dockerfile -t aragora-frontend:0.1.0 .
#
# The build context is the repository root. The backend is reached as
# `aragora-backend:8080`: the name of the backend's Kubernetes Service and of its Compose
# service (see deploy/docker/nginx.conf).
#
# Build arguments:
#   NGINX_IMAGE  any image with nginx 1.19.5+ at /usr/sbin/nginx and /etc/nginx/mime.types
#                (the official nginx images and Debian's nginx package both qualify)
#   NODE_IMAGE   Node.js 20+ with npm, used only when the context has web/package.json
#   VERSION      the version written into the image labels
ARG NGINX_IMAGE=nginx:1.27-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- ui: the web app, when there is one -------------------------------------------------------
FROM ${NODE_IMAGE} AS ui
WORKDIR /src
COPY . .
# Without web/ the frontend still proxies everything to the backend, which serves the
# API (and the app, when its wheel carries one).
RUN if [ -f web/package.json ]; then \
        npm --prefix web ci --no-audit --no-fund \
        && npm --prefix web run build \
        && rm -rf web/node_modules; \
    else \
        echo "no web/package.json in the build context: nginx will proxy every page to the backend"; \
        mkdir -p web/dist; \
    fi

# --- runtime ------------------------------------------------------------------------------------
FROM ${NGINX_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="aragora-frontend" \
      org.opencontainers.image.description="Aragora web app behind nginx, proxying the API and WebSocket to the backend" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
COPY deploy/docker/nginx.conf /etc/aragora/nginx.conf
COPY --from=ui /src/web/dist/ /usr/share/aragora/web/
# Unprivileged (uid 101, the nginx user of the official image; no passwd entry needed):
# port 8080, and every file nginx writes (pid, temporary bodies) under /tmp, so the root
# filesystem can be read-only.
USER 101:101
EXPOSE 8080
# SIGQUIT: nginx finishes the requests in flight, then exits.
STOPSIGNAL SIGQUIT
ENTRYPOINT ["nginx", "-e", "stderr", "-c", "/etc/aragora/nginx.conf", "-g", "daemon off;"]
