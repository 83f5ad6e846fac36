#!/usr/bin/env bash
# Provides kube-apiserver, etcd and kubectl for the tests and the demo, envtest style.
#
# - KUBEBUILDER_ASSETS set and holding the three binaries: used as is.
# - Otherwise builds pinned versions with the machine's Go toolchain from the Go module proxy
#   into a cache outside the repository; a second run finds them and returns at once.
#
# Prints the directory holding the binaries on stdout (everything else goes to stderr).
set -euo pipefail

K8S_VERSION="${PITRIX_K8S_VERSION:-v1.34.4}"
# Kubernetes 1.34 is built and tested against etcd 3.6 (its go.mod pins the 3.6 client).
ETCD_VERSION="${PITRIX_ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${PITRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pitrix-operator}"

log() { echo "[control-plane-assets] $*" >&2; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for b in kube-apiserver etcd kubectl; do
    if [[ ! -x "$KUBEBUILDER_ASSETS/$b" ]]; then
      log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks an executable '$b'; unset it to build pinned versions"
      exit 1
    fi
  done
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

OUT="$CACHE_ROOT/assets/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"
if [[ -x "$OUT/kube-apiserver" && -x "$OUT/etcd" && -x "$OUT/kubectl" ]]; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the control plane (or set KUBEBUILDER_ASSETS)"; exit 1; }
mkdir -p "$OUT"
export GOFLAGS="-mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0
work="$CACHE_ROOT/build"
mkdir -p "$work"

build_kubernetes() {
  local dir="$work/kubernetes-$K8S_VERSION"
  mkdir -p "$dir"
  local mod; mod=$(curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/k8s.io/kubernetes/@v/${K8S_VERSION}.mod" 2>/dev/null || true)
  if [[ -z "$mod" ]]; then
    # Fall back to the module cache via go itself.
    (cd "$dir" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" >/dev/null)
    mod=$(cat "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/${K8S_VERSION}.mod")
  fi
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local folders,
  # which `go install` refuses (golang/go#44840): a wrapper module replaces each with its
  # published twin (k8s.io/X v0.MINOR.PATCH).
  local staging_ver="v0${K8S_VERSION#v1}"
  {
    echo "module pitrix.local/k8s-build"
    echo "go 1.24"
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' <<<"$mod" \
      | awk -v v="$staging_ver" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  echo 'package tools' >"$dir/tools.go"
  log "building kube-apiserver and kubectl ${K8S_VERSION} (first run only, several minutes)"
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || true
   cd "$dir" && go get "k8s.io/kubernetes@${K8S_VERSION}" >&2
   go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION}" -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
   go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION}" -o "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl) >&2
}

build_etcd() {
  local dir="$work/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  printf 'module pitrix.local/etcd-build\ngo 1.24\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/go.mod"
  echo 'package tools' >"$dir/tools.go"
  log "building etcd ${ETCD_VERSION}"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2 && \
   go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3) >&2
}

[[ -x "$OUT/etcd" ]] || build_etcd
[[ -x "$OUT/kube-apiserver" && -x "$OUT/kubectl" ]] || build_kubernetes
for b in kube-apiserver etcd kubectl; do [[ -x "$OUT/$b" ]] || { log "build of $b failed"; exit 1; }; done
log "cached in $OUT"
echo "$OUT"
