#!/usr/bin/env bash
# Provides `helm` for the chart tests, the way hack/control-plane-assets.sh provides kube-apiserver:
#
# - HELM set to an executable: used as is.
# - Otherwise builds the pinned version with the machine's Go toolchain from the Go module proxy
#   (`go install helm.sh/helm/v3/cmd/helm@VERSION`) into a cache outside the repository; a second
#   run finds it and returns at once.
#
# Prints the path of the helm binary on stdout (everything else goes to stderr).
set -euo pipefail

HELM_VERSION="${PITRIX_HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${PITRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pitrix-operator}"

log() { echo "[helm-assets] $*" >&2; }

if [[ -n "${HELM:-}" ]]; then
  [[ -x "$HELM" ]] || { log "HELM=$HELM is not executable; unset it to build the pinned version"; exit 1; }
  echo "$HELM"
  exit 0
fi

OUT="$CACHE_ROOT/assets/helm-${HELM_VERSION}-b2"
if [[ -x "$OUT/helm" ]]; then
  echo "$OUT/helm"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build helm (or set HELM)"; exit 1; }
mkdir -p "$OUT"
log "building helm ${HELM_VERSION} (first run only, a few minutes)"
# GOTOOLCHAIN=local: build with the machine's Go; helm's go.mod must not ask for a newer one.
export GOTOOLCHAIN=local CGO_ENABLED=0
gomod=$(cd "$OUT" && go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
# As helm's Makefile does: the Kubernetes version helm assumes offline (helm template, lint)
# is the one of the client-go it is built with, not the v1.20 compiled-in default.
k8s_minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -1)
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor:-34}"
done
GOBIN="$OUT" GOFLAGS="-trimpath" go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2
[[ -x "$OUT/helm" ]] || { log "build of helm failed"; exit 1; }
log "cached in $OUT"
echo "$OUT/helm"
