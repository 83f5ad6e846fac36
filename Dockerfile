# syntax=docker/dockerfile:1
# pitrix-operator image: build with the full Node 24 toolchain, run on distroless Node 24
# (no shell, no package manager) as a non-root user, on a read-only root filesystem.
#
#   docker build -t pitrix-operator:0.1.0 .
#   docker run --rm --read-only pitrix-operator:0.1.0 version
#
# Node 24 is the LTS the project pins (package.json engines, the `node` dev dependency).

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# --- build: compile TypeScript to dist/ --------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `node` itself is a dev dependency (for npm scripts on hosts with an older Node); the image has its own.
# `npm ci` only: the committed lockfile carries every platform's optional packages, and a lockfile
# npm refuses must fail the build rather than be rewritten by `npm install`.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# --- deps: production dependencies only ---------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# --- runtime -------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# 65532 = distroless "nonroot"; numeric so runAsNonRoot can verify it.
USER 65532:65532
ENV NODE_ENV=production
EXPOSE 8080
# Node is PID 1: `run` handles SIGTERM/SIGINT itself (stop taking work, let steps reach a
# boundary, release the Lease, exit 0) and spawns no child processes, so no init is needed.
# Nothing is written to the filesystem: --read-only / readOnlyRootFilesystem work as is.
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["run"]
