#!/usr/bin/env bash
# Proves the install is reproducible: clones the committed HEAD into a temporary directory, runs
# hack/setup.sh there (so `npm ci` must accept the committed package-lock.json as is) and fails if
# the set-up changed, added or deleted any file git tracks or does not ignore.
#
# Network: `npm ci` downloads the locked packages (about 40 s); the control-plane binaries and helm
# come from the shared cache outside the repository, as in a normal set-up.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[clean-clone] $*" >&2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/pitrix-clean-clone.XXXXXX")
trap 'rm -rf "$dir"' EXIT
git clone --quiet --no-hardlinks . "$dir/repo"
cd "$dir/repo"
log "hack/setup.sh in a clean clone of $(git rev-parse --short HEAD)"
bash hack/setup.sh
changed=$(git status --porcelain --untracked-files=all)
if [[ -n "$changed" ]]; then
  log "hack/setup.sh modified the clean clone (a set-up must never write a tracked file):"
  echo "$changed" >&2
  git --no-pager diff --stat >&2
  exit 1
fi
log "ok: npm ci accepted the committed lockfile and git status --porcelain is empty"
