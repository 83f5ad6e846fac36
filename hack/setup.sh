#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine of this kind; every step is
# skipped when already done, so a warm run costs about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }

# npm packages (pinned by package-lock.json). `node` (Node 24 LTS) comes in as a dev dependency.
if [[ ! -x node_modules/.bin/vitest || ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  # `npm ci` only: it installs exactly the committed lockfile and never writes it. A lockfile it
  # refuses (out of sync with package.json, or missing a platform's optional package) must stop
  # the set-up here, loudly; `npm install` would "fix" it by rewriting a tracked file. The
  # lockfile carries every platform's optional packages (biome's, esbuild's, rolldown's), so it
  # is accepted on any OS/CPU; after changing dependencies regenerate it with
  # `npm install --package-lock-only` and commit it.
  if ! npm ci --no-fund --no-audit >&2; then
    log "npm ci refused package-lock.json (see npm's message above); the set-up does not fall back"
    log "to npm install, which would rewrite the committed lockfile. Regenerate it with"
    log "'npm install --package-lock-only', review the diff and commit it."
    exit 1
  fi
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

# kstatus (sigs.k8s.io/cli-utils, pinned in hack/kstatus/go.mod) for the GitOps health tests, built
# once from the Go module proxy and cached like helm.
log "kstatus: $(bash hack/kstatus-assets.sh)"

# The Lua VM Argo CD embeds (gopher-lua, pinned in hack/argocd-lua/go.mod) for the health-script tests.
log "argocd-lua: $(bash hack/argocd-lua-assets.sh)"

# kubeconform, kube-score and the Grafana dashboard schema check (pinned in hack/linters/go.mod) for
# test/integration/linters.test.ts, built once from the Go module proxy and cached like helm.
log "linters: $(bash hack/linters-assets.sh)"
