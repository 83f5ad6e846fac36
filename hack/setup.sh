#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine of this kind; every step is
# skipped when already done, so a warm run costs about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }

# npm packages (pinned by package-lock.json). `node` (Node 24 LTS) comes in as a dev dependency.
if [[ ! -x node_modules/.bin/vitest || ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  # npm 11.19 writes lockfiles without the other platforms' optional packages (biome's, esbuild's)
  # and then refuses them in `npm ci`; `npm install` installs the same locked versions.
  npm ci --no-fund --no-audit >&2 2>/dev/null || npm install --no-fund --no-audit >&2
fi

# Debian packages: OpenSSH server for the simulated platform, iproute2 for its addresses.
need=()
command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# Prometheus and promtool for the alert tests (test/promtool, test/integration/alerts.test.ts).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  # The package enables and may start a system sshd; the simulator runs its own, so stop it.
  (command -v systemctl >/dev/null && systemctl disable --now ssh >/dev/null 2>&1) || true
  (command -v systemctl >/dev/null && systemctl disable --now prometheus >/dev/null 2>&1) || true
fi

# kube-apiserver, etcd and kubectl: KUBEBUILDER_ASSETS, or built once and cached outside the repo.
assets=$(bash hack/control-plane-assets.sh)
mkdir -p .cache
echo "$assets" > .cache/assets-dir
log "control-plane binaries: $assets"

# helm for the chart tests: HELM, or built once from the Go module proxy and cached like the above.
log "helm: $(bash hack/helm-assets.sh)"
