# The cpa image: the operator and the autoscaler runtime in one image.
#
#   docker build -t cpa:0.1.0 .                               # target runtime (the last stage)
#   docker build --target python -t cpa-python:0.1.0 .        # the same, plus Python 3
#   docker build --target runtime-dropin -t cpa:0.1.0-dropin .        # the drop-in flavours:
#   docker build --target python-dropin -t cpa-python:0.1.0-dropin .  # as the original's images
#
# The hardened flavour (runtime, python) runs as uid 65532 with nothing of its
# own writable; the drop-in flavour behaves as the original's images did, for
# autoscalers built on them unchanged: root, /app writable, pip that installs,
# the original's CMD (README.md, "The image", says which to pick).
#
# `npm test` builds both targets with buildah (`npm run image`) from a local
# stand-in for NODE_IMAGE (hack/image/test-base.ts) and runs them with podman.

# The Node the project pins (package.json devDependencies.node); the test checks they match.
# trixie: Debian 13, whose python3 is 3.13, as in the original's python image.
ARG NODE_IMAGE=node:26.10.0-trixie-slim
# Multi-arch (docker buildx --platform linux/amd64,linux/arm64, or a buildah
# manifest list as `npm run release` makes): the npm and tsc stages run on the
# builder's own platform, natively, since all they make is JavaScript; only the
# stages from `base` on run as the target's. BuildKit sets both platform
# arguments itself; with buildah pass them (hack/image/build.ts does).
# BUILD_NODE_IMAGE is the same Node image for the builder's platform (the same
# name, for a multi-arch image such as the official one).
ARG BUILD_NODE_IMAGE=${NODE_IMAGE}
ARG BUILDPLATFORM
ARG TARGETPLATFORM

# Production dependencies, nothing else. Of node_modules, nothing ever loads
# type declarations (.d.ts, @types) or source maps (cpa does not enable them),
# and Node refuses to strip types from .ts files under node_modules: a third
# of it, dropped.
FROM --platform=$BUILDPLATFORM ${BUILD_NODE_IMAGE} AS deps
WORKDIR /opt/cpa
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts \
 && rm -rf node_modules/@types \
 && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \) -delete

# The sources type-checked and compiled to JavaScript (tsc), so nothing is
# type-stripped at start (users' own .ts modules still are, by Node, when the
# module method loads them), then bundled: one file per command and the chunks
# they share, dependencies included (hack/bundle.ts says why).
FROM --platform=$BUILDPLATFORM ${BUILD_NODE_IMAGE} AS compile
WORKDIR /opt/cpa
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY hack/bundle.ts hack/
COPY src/ src/
RUN npm run build

# The native spawn helper (src/autoscaler/methods/spawn-helper.c), through
# which shell stages start their programs: built for the target's own
# architecture and libc, in an image of its own so the compiler stays out.
FROM --platform=$TARGETPLATFORM ${NODE_IMAGE} AS spawn-helper
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/cpa
COPY package.json ./
COPY src/autoscaler/methods/spawn-helper.c src/autoscaler/methods/
RUN npm run build:native

# The app: the launcher, the bundle, the spawn helper, production dependencies
# (of which the bundle loads only @kubernetes/client-node, and that only outside a cluster).
FROM --platform=$BUILDPLATFORM ${BUILD_NODE_IMAGE} AS build
WORKDIR /opt/cpa
COPY package.json package-lock.json ./
COPY --from=deps /opt/cpa/node_modules node_modules/
COPY --from=compile /opt/cpa/dist/bundle dist/bundle/
COPY --from=spawn-helper /opt/cpa/dist/libexec/cpa-spawn-helper dist/libexec/
COPY bin/ bin/

# What both targets share, the app excepted: the app goes in last in each
# target, so a new release of cpa rebuilds (and ships) only that layer, over
# operating-system layers that stay the same.
FROM --platform=$TARGETPLATFORM ${NODE_IMAGE} AS base
# tini as PID 1: forwards signals to cpa and reaps the orphans of user scripts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --no-log-init --home-dir /nonexistent --shell /usr/sbin/nologin nonroot
# The Docker default PATH, with cpa first (the node image does not change PATH).
ENV PATH=/opt/cpa/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# As in the original: scripts run from /app; the config is read from /config.yaml.
WORKDIR /app
# The original's binary, by its path: CMDs, entrypoint scripts and template commands name it.
RUN ln -s /opt/cpa/bin/custom-pod-autoscaler /app/custom-pod-autoscaler
USER 65532:65532
LABEL org.opencontainers.image.title="cpa" \
      org.opencontainers.image.description="Custom Pod Autoscaler for Kubernetes: the operator and the autoscaler runtime" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["tini", "--", "cpa"]
# The operator's Deployment passes its own args: [operator, --leader-elect, ...].
CMD ["autoscaler"]

# cpa-python: for autoscalers written in Python, as in the getting-started guide.
FROM base AS python
LABEL org.opencontainers.image.title="cpa-python"
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python-is-python3 \
 && rm -rf /var/lib/apt/lists/*
USER 65532:65532
# The app lives apart from /, where users ADD config.yaml and their scripts.
COPY --from=build /opt/cpa /opt/cpa

# The drop-in flavour's base: root, as the original's images ran, and the
# original's CMD with no ENTRYPOINT in front (a template's `command:` replaces
# it, as it replaced the original's).
FROM base AS dropin
USER root
LABEL org.opencontainers.image.description="Custom Pod Autoscaler for Kubernetes: the drop-in flavour, which runs as root as the original's images did"
ENTRYPOINT []
CMD ["/app/custom-pod-autoscaler"]

FROM dropin AS runtime-dropin
COPY --from=build /opt/cpa /opt/cpa

# Python as the original's python image had it: python, python3 and a pip that
# installs (a virtual environment first on PATH: Debian's own Python is
# externally managed, PEP 668, and refuses `pip install`).
FROM dropin AS python-dropin
LABEL org.opencontainers.image.title="cpa-python"
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/python
ENV PATH=/opt/python/bin:/opt/cpa/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY --from=build /opt/cpa /opt/cpa

# cpa: last, so a plain `docker build .` builds it.
FROM base AS runtime
COPY --from=build /opt/cpa /opt/cpa
