#!/usr/bin/env bash
# Provides the linters that judge the chart, the manifests and the dashboard (hack/linters, pinned
# in hack/linters/go.mod and go.sum), the way hack/kstatus-assets.sh provides kstatus:
#
#   kubeconform               github.com/yannh/kubeconform  (manifests against the API's schemas)
#   kube-score                github.com/zegl/kube-score    (chart best practices; kube-linter is
#                                                            not served by the Go module proxy)
#   grafana-dashboard-check   hack/linters/grafana-dashboard-check, Grafana's Foundation SDK schema
#                                                           (dashboard-linter is not served either)
#
# - PITRIX_LINTERS_DIR set to a directory holding the three executables: used as is.
# - Otherwise built once with the machine's Go from the Go module proxy into a cache outside the
#   repository, keyed by the hash of hack/linters's sources; a second run returns at once.
#
# Prints the directory of the binaries on stdout (everything else goes to stderr).
set -euo pipefail
cd "$(dirname "$0")/linters"

CACHE_ROOT="${PITRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pitrix-operator}"
log() { echo "[linters-assets] $*" >&2; }
tools=(kubeconform kube-score grafana-dashboard-check)

if [[ -n "${PITRIX_LINTERS_DIR:-}" ]]; then
  for t in "${tools[@]}"; do
    [[ -x "$PITRIX_LINTERS_DIR/$t" ]] || { log "PITRIX_LINTERS_DIR=$PITRIX_LINTERS_DIR has no executable $t; unset it to build the pinned versions"; exit 1; }
  done
  echo "$PITRIX_LINTERS_DIR"
  exit 0
fi

version() { sed -n "s|^[[:space:]]*$1 \(v[^ ]*\).*|\1|p" go.mod | head -1; }
key=$(cat go.mod go.sum tools.go grafana-dashboard-check/main.go | sha256sum | cut -c1-12)
OUT="$CACHE_ROOT/assets/linters-kubeconform-$(version github.com/yannh/kubeconform)-kube-score-$(version github.com/zegl/kube-score)-${key}"
ready=1
for t in "${tools[@]}"; do [[ -x "$OUT/$t" ]] || ready=0; done
if ((ready)); then
  echo "$OUT"
  exit 0
fi
command -v go >/dev/null || { log "Go is required to build the linters (or set PITRIX_LINTERS_DIR)"; exit 1; }
mkdir -p "$OUT"
log "building kubeconform, kube-score and grafana-dashboard-check (first run only, a few minutes)"
# -mod=readonly: go.sum pins every module; a build that wants to change it fails instead.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath"
go build -ldflags "-s -w" -o "$OUT/" \
  github.com/yannh/kubeconform/cmd/kubeconform \
  github.com/zegl/kube-score/cmd/kube-score \
  ./grafana-dashboard-check >&2
for t in "${tools[@]}"; do [[ -x "$OUT/$t" ]] || { log "build of $t failed"; exit 1; }; done
log "cached in $OUT"
echo "$OUT"
