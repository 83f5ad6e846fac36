#!/usr/bin/env bash
# For users with Docker (this project's CI machine has no Docker engine): build the operator image,
# create a kind cluster, load the image and install the chart.
#
#   hack/kind-up.sh                      # cluster "pitrix", release in pitrix-system
#   KIND_CLUSTER=dev IMAGE=pitrix-operator:dev hack/kind-up.sh
#
# Needs: docker, kind, kubectl, helm (hack/helm-assets.sh builds one with Go if absent).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER:-pitrix}"
IMAGE="${IMAGE:-pitrix-operator:dev}"
NAMESPACE="${NAMESPACE:-pitrix-system}"
log() { echo "[kind-up] $*" >&2; }

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done
docker info >/dev/null 2>&1 || { log "no Docker engine answers (docker info failed)"; exit 1; }
HELM="${HELM:-$(command -v helm || bash hack/helm-assets.sh)}"

log "building $IMAGE"
docker build -t "$IMAGE" .

if ! kind get clusters | grep -qx "$CLUSTER"; then
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

log "loading $IMAGE into the cluster"
kind load docker-image "$IMAGE" --name "$CLUSTER"

kubectl apply -f manifests/base/namespace.yaml   # pitrix-system with Pod Security "restricted"
log "installing the chart in $NAMESPACE"
"$HELM" upgrade --install pitrix-operator helm/pitrix-operator \
  --namespace "$NAMESPACE" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --wait --timeout 3m
kubectl -n "$NAMESPACE" rollout status deployment/pitrix-operator --timeout=2m
kubectl -n "$NAMESPACE" get lease pitrix-operator-leader -o jsonpath='leader: {.spec.holderIdentity}{"\n"}'
