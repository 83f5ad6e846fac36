#!/usr/bin/env bash
# Provides `argocd-lua` (hack/argocd-lua: github.com/yuin/gopher-lua, the Lua VM Argo CD embeds, pinned in
# hack/argocd-lua/go.mod and go.sum) for the tests, the way hack/helm-assets.sh provides helm:
#
# - ARGOCD_LUA set to an executable: used as is.
# - Otherwise built once with the machine's Go from the Go module proxy into a cache outside the
#   repository, keyed by the hash of hack/argocd-lua's sources; a second run returns at once.
#
# Prints the path of the binary on stdout (everything else goes to stderr).
set -euo pipefail
cd "$(dirname "$0")/argocd-lua"

CACHE_ROOT="${PITRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pitrix-operator}"
log() { echo "[argocd-lua-assets] $*" >&2; }

if [[ -n "${ARGOCD_LUA:-}" ]]; then
  [[ -x "$ARGOCD_LUA" ]] || { log "ARGOCD_LUA=$ARGOCD_LUA is not executable; unset it to build the pinned version"; exit 1; }
  echo "$ARGOCD_LUA"
  exit 0
fi

version=$(sed -n 's/^[[:space:]]*github\.com\/yuin\/gopher-lua \(v[^ ]*\).*/\1/p' go.mod | head -1)
key=$(cat go.mod go.sum main.go | sha256sum | cut -c1-12)
OUT="$CACHE_ROOT/assets/argocd-lua-gopher-lua-${version}-${key}"
if [[ -x "$OUT/argocd-lua" ]]; then
  echo "$OUT/argocd-lua"
  exit 0
fi
command -v go >/dev/null || { log "Go is required to build argocd-lua (or set ARGOCD_LUA)"; exit 1; }
mkdir -p "$OUT"
log "building argocd-lua (gopher-lua ${version}; first run only, under a minute)"
# -mod=readonly: go.sum pins every module; a build that wants to change it fails instead.
GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath" go build -ldflags "-s -w" -o "$OUT/argocd-lua" . >&2
[[ -x "$OUT/argocd-lua" ]] || { log "build of argocd-lua failed"; exit 1; }
log "cached in $OUT"
echo "$OUT/argocd-lua"
