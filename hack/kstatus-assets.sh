#!/usr/bin/env bash
# Provides `kstatus` (hack/kstatus: sigs.k8s.io/cli-utils/pkg/kstatus/status, pinned in
# hack/kstatus/go.mod and go.sum) for the tests, the way hack/helm-assets.sh provides helm:
#
# - KSTATUS set to an executable: used as is.
# - Otherwise built once with the machine's Go from the Go module proxy into a cache outside the
#   repository, keyed by the hash of hack/kstatus's sources; a second run returns at once.
#
# Prints the path of the binary on stdout (everything else goes to stderr).
set -euo pipefail
cd "$(dirname "$0")/kstatus"

CACHE_ROOT="${PITRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pitrix-operator}"
log() { echo "[kstatus-assets] $*" >&2; }

if [[ -n "${KSTATUS:-}" ]]; then
  [[ -x "$KSTATUS" ]] || { log "KSTATUS=$KSTATUS is not executable; unset it to build the pinned version"; exit 1; }
  echo "$KSTATUS"
  exit 0
fi

version=$(sed -n 's/^[[:space:]]*sigs\.k8s\.io\/cli-utils \(v[^ ]*\).*/\1/p' go.mod | head -1)
key=$(cat go.mod go.sum main.go | sha256sum | cut -c1-12)
OUT="$CACHE_ROOT/assets/kstatus-cli-utils-${version}-${key}"
if [[ -x "$OUT/kstatus" ]]; then
  echo "$OUT/kstatus"
  exit 0
fi
command -v go >/dev/null || { log "Go is required to build kstatus (or set KSTATUS)"; exit 1; }
mkdir -p "$OUT"
log "building kstatus (cli-utils ${version}; first run only, about 2 minutes)"
# -mod=readonly: go.sum pins every module; a build that wants to change it fails instead.
GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath" go build -ldflags "-s -w" -o "$OUT/kstatus" . >&2
[[ -x "$OUT/kstatus" ]] || { log "build of kstatus failed"; exit 1; }
log "cached in $OUT"
echo "$OUT/kstatus"
