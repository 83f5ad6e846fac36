#!/usr/bin/env bash
# For users with Docker: the demo scenario against the operator running *in* a kind cluster.
# hack/kind-up.sh first; then this starts the simulated platform on the host (root: it binds
# 127.77.X.Y addresses and runs sshd per host), makes it reachable from the kind node, applies a
# Zone and a NodePool and waits for them to converge.
#
# Scope: the Zone (observing the firstbox) converges from inside the cluster. A NodePool needs the
# operator to reach the nodes directly, which the simulator's 127.77.X.Y loopback addresses are not
# from a kind node: for the full scale-out run the operator on the host (npm run demo).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER:-pitrix}"
NS="${NS:-pitrix-demo}"
SUBNET=45
log() { echo "[kind-e2e] $*" >&2; }
command -v socat >/dev/null || { log "socat is required to forward the simulator into kind"; exit 1; }
kubectl config use-context "kind-$CLUSTER" >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

log "starting the simulated platform (examples/sim/standard.yaml, subnet $SUBNET)"
npx tsx hack/sim/main.ts --scenario examples/sim/standard.yaml --subnet "$SUBNET" --work-dir "$work/sim" >"$work/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do grep -q '^try:' "$work/sim.log" 2>/dev/null && break; sleep 1; done
# The simulator prints: try: ssh -i KEY -o UserKnownHostsFile=… -p PORT root@FIRSTBOX …
try=$(grep '^try:' "$work/sim.log" | head -1)
key=$(sed -E 's/.*ssh -i ([^ ]+).*/\1/' <<<"$try")
firstbox=$(sed -E 's/.*root@([0-9.]+).*/\1/' <<<"$try")
fbport=$(sed -E 's/.* -p ([0-9]+) .*/\1/' <<<"$try")
[[ -f "$key" && -n "$firstbox" ]] || { log "could not read the firstbox and key from $work/sim.log"; exit 1; }
# The kind node reaches the host through the kind network's gateway: forward a port there to the
# firstbox's sshd (the firstbox reaches the simulated nodes itself).
gateway=$(docker network inspect kind -f '{{(index .IPAM.Config 0).Gateway}}')
socat "TCP-LISTEN:22022,bind=$gateway,fork,reuseaddr" "TCP:$firstbox:$fbport" &
pids+=($!)

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NS" create secret generic firstbox-ssh --type=kubernetes.io/ssh-auth \
  --from-file=ssh-privatekey="$key" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NS" label secret firstbox-ssh ops.pitrix.io/credentials=true --overwrite
cat <<YAML | kubectl -n "$NS" apply -f -
apiVersion: ops.pitrix.io/v1alpha1
kind: Zone
metadata: { name: pek3a }
spec:
  zoneId: pek3a
  firstbox:
    host: $gateway
    port: 22022
    credentialsSecretRef: { name: firstbox-ssh }
    hostKeyPolicy: TrustOnFirstUse
YAML
kubectl -n "$NS" wait zone/pek3a --for=condition=Ready --timeout=120s
log "Zone Ready: the operator in kind observed the simulated firstbox over SSH"
kubectl pitrix status -n "$NS" 2>/dev/null || kubectl -n "$NS" get pitrix
