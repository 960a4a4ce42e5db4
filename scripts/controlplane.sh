#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for spotguard's tests, the demo and exploring:
# etcd + kube-apiserver (RBAC on, ServiceAccount token issuing, client-certificate admin,
# default admission plugins) + kube-controller-manager (disruption, deployment, daemonset,
# serviceaccount, node lifecycle, garbage collection...: all but the cloud's, node-ipam and
# ttl), optionally kube-scheduler and kwok (simulated nodes and pod lifecycles, grace honoured).
#
#   scripts/controlplane.sh up DIR [--kwok] [--scheduler-config FILE] [--owner-pid PID]
#       Starts everything on free loopback ports, writes DIR/kubeconfig (cluster-admin) and
#       DIR/controlplane.env, and returns once the API server is ready and the controller
#       manager is healthy and has created the default ServiceAccounts. With --owner-pid, a
#       watchdog tears everything down when that process exits (even if it was killed).
#   scripts/controlplane.sh scheduler DIR FILE
#       (Re)starts kube-scheduler with the KubeSchedulerConfiguration FILE. The string
#       __KUBECONFIG__ in FILE is replaced by the scheduler's own kubeconfig (user
#       system:kube-scheduler, bound by the API server's bootstrap RBAC).
#   scripts/controlplane.sh down DIR
#       Stops everything started in DIR (scripts/spark-operator.sh's operator and
#       scripts/realnode.sh's real node too). Safe to call twice.
#
# Binaries, etcd included, come from scripts/build-tools.sh (cache keyed by scripts/versions.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
. "$here/stop-pid-file.sh"
PATH="$TOOLS_DIR/bin:$PATH"

die() { echo "controlplane: $*" >&2; exit 1; }

need() {
  local missing=()
  for b in "$@"; do command -v "$b" >/dev/null || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return
  die "missing ${missing[*]} (looked in $TOOLS_DIR/bin and PATH); run 'make tools' (scripts/build-tools.sh) and 'scripts/deps.sh'"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME CMD...: runs CMD in its own session (so 'down' can kill its whole group),
# output to DIR/logs/NAME.log, pid to DIR/pids/NAME.pid.
start() {
  local name=$1; shift
  setsid "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 &
  echo $! >"$DIR/pids/$name.pid"
}

kubectl_admin() { kubectl --kubeconfig "$DIR/kubeconfig" "$@"; }

wait_ready() {
  local what=$1 deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "controlplane: $what not ready; last log lines:" >&2
      tail -n 30 "$DIR/logs/$what.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

write_kubeconfig() {  # FILE USER CERT KEY
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: spotguard-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $DIR/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $3
    client-key: $4
contexts:
- name: spotguard-test
  context: {cluster: spotguard-test, user: $2}
current-context: spotguard-test
KC
}

make_pki() {
  local p="$DIR/pki"
  mkdir -p "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=spotguard-test-ca" \
    -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  # sign NAME SUBJECT [SAN]
  sign() {
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
    if [ -n "${3:-}" ]; then printf 'subjectAltName=%s\n' "$3" >"$p/$1.ext"; else : >"$p/$1.ext"; fi
    openssl x509 -req -in "$p/$1.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
      -days 30 -extfile "$p/$1.ext" -out "$p/$1.crt" 2>/dev/null
  }
  sign apiserver "/CN=kube-apiserver" "IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc"
  sign admin "/O=system:masters/CN=spotguard-test-admin"
  sign scheduler "/CN=system:kube-scheduler"
  sign controller-manager "/CN=system:kube-controller-manager"
  # The API server's own client certificate for kubelets (logs, exec, port-forward), as kubeadm's.
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
}

cmd_up() {
  local kwok=0 sched_cfg="" owner=""
  while [ $# -gt 0 ]; do
    case $1 in
      --kwok) kwok=1 ;;
      --scheduler-config) sched_cfg=$2; shift ;;
      --owner-pid) owner=$2; shift ;;
      *) die "unknown option $1" ;;
    esac
    shift
  done
  need etcd kube-apiserver kube-controller-manager kubectl openssl python3
  [ $kwok = 1 ] && need kwok
  [ -n "$sched_cfg" ] && need kube-scheduler
  mkdir -p "$DIR/logs" "$DIR/pids"
  [ -f "$DIR/pids/kube-apiserver.pid" ] && die "$DIR already runs a control plane; 'down' it first"
  if [ -n "$owner" ]; then
    # The watchdog: when the owner dies (test finished, crashed or was killed), tear down.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; exec "$2" down "$3"' \
      watchdog "$owner" "$here/controlplane.sh" "$DIR" </dev/null >"$DIR/logs/watchdog.log" 2>&1 &
    echo $! >"$DIR/pids/watchdog.pid"
  fi

  make_pki
  ETCD_PORT=$(free_port); ETCD_PEER_PORT=$(free_port); API_PORT=$(free_port)
  start etcd etcd --name spotguard-test --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "spotguard-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 4294967296
  wait_ready etcd 30 python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "http://127.0.0.1:$ETCD_PORT/health"

  # The default admission plugins, all on: kube-controller-manager runs below, so the
  # ServiceAccount plugin finds each namespace's "default" ServiceAccount (its serviceaccount
  # controller creates it; for a pod created right after its namespace, the plugin itself
  # waits up to ~2 s for it), and the not-ready taint TaintNodesByCondition puts on every new
  # node is lifted by its node lifecycle controller once the node reports Ready (kwok's nodes
  # do at once). configmaps bypass the watch cache, so an e2e test can compact etcd under a
  # watch and see the real 410 Gone -> relist path; everything else is served as in production.
  start kube-apiserver kube-apiserver \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --cert-dir "$DIR/pki" --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
    --client-ca-file "$DIR/pki/ca.crt" \
    --kubelet-client-certificate "$DIR/pki/apiserver-kubelet-client.crt" --kubelet-client-key "$DIR/pki/apiserver-kubelet-client.key" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$DIR/pki/sa.pub" --service-account-signing-key-file "$DIR/pki/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/16 \
    --endpoint-reconciler-type none \
    --watch-cache-sizes configmaps#0 \
    --profiling=false --v 1
  write_kubeconfig "$DIR/kubeconfig" spotguard-test-admin "$DIR/pki/admin.crt" "$DIR/pki/admin.key"
  write_kubeconfig "$DIR/scheduler.kubeconfig" system:kube-scheduler "$DIR/pki/scheduler.crt" "$DIR/pki/scheduler.key"
  write_kubeconfig "$DIR/controller-manager.kubeconfig" system:kube-controller-manager \
    "$DIR/pki/controller-manager.crt" "$DIR/pki/controller-manager.key"
  wait_ready kube-apiserver 90 kubectl_admin get --raw /readyz
  start_controller_manager
  # The namespace spotguard's manifests install into (no controller creates it; tests and the
  # demo start processes in it before they apply anything).
  kubectl_admin create namespace spotguard-system >/dev/null 2>&1 || true

  cat >"$DIR/controlplane.env" <<ENV
KUBECONFIG=$DIR/kubeconfig
APISERVER_URL=https://127.0.0.1:$API_PORT
ETCD_URL=http://127.0.0.1:$ETCD_PORT
KUBERNETES_VERSION=$KUBERNETES_VERSION
ENV

  if [ $kwok = 1 ]; then start_kwok; fi
  if [ -n "$sched_cfg" ]; then cmd_scheduler "$sched_cfg"; fi
  wait_controller_manager
  echo "controlplane: up in $DIR (API server https://127.0.0.1:$API_PORT, Kubernetes $KUBERNETES_VERSION)"
  echo "controlplane: export KUBECONFIG=$DIR/kubeconfig"
}

start_controller_manager() {
  # Controllers: the default set (--controllers=*: all but bootstrap-signer and token-cleaner,
  # which serve kubeadm's bootstrap tokens) less those that cannot work here and would only log
  # that they skip: cloud-node-lifecycle (deletes nodes their cloud no longer knows: there is
  # no cloud provider), service-lb and node-route (program the cloud's load balancers and
  # routes: same), node-ipam (allocates pod CIDRs: needs --allocate-node-cidrs and a cluster
  # CIDR; kwok's pods need no network). Also off: ttl, which sets every node's
  # node.alpha.kubernetes.io/ttl (a kubelet's ConfigMap/Secret cache time; kwok has no cache)
  # and rewrites every node each time the cluster crosses 100, 500, 1000 or 2000 nodes, as the
  # benchmarks' clusters do while they are measured.
  # --use-service-account-credentials: each controller acts as its own kube-system
  # ServiceAccount under the bootstrap RBAC roles, as kubeadm's do.
  # --kube-api-qps/--kube-api-burst: at the default 20 requests a second per controller, the
  # node lifecycle controller lifts the not-ready taint from some 10 nodes a second (500 new
  # nodes stayed unschedulable for a minute, measured; 5000 would for 9); at 1000 it keeps up
  # with kwok marking them Ready.
  # --node-monitor-grace-period: kwok's nodes heartbeat through their status every 600-610 s
  # and keep no Lease, so with the default 50 s the node lifecycle controller marks every node
  # Unknown and taints it unreachable a minute after it registered, and kwok sets it Ready
  # again: a flap a minute (seen). Leases renewed like a kubelet's (kwok
  # --node-lease-duration-seconds 40) would keep the default, but cost the API server, etcd and
  # kwok a quarter of a CPU per 500 nodes (measured), some 2.5 CPUs at the benchmarks' 5000.
  # So no Leases, and 15 min of grace: a dead node is noticed late, and nothing here kills one.
  KCM_PORT=$(free_port)
  start kube-controller-manager kube-controller-manager \
    --kubeconfig "$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
    --use-service-account-credentials=true \
    --service-account-private-key-file "$DIR/pki/sa.key" --root-ca-file "$DIR/pki/ca.crt" \
    --cluster-signing-cert-file "$DIR/pki/ca.crt" --cluster-signing-key-file "$DIR/pki/ca.key" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false \
    --node-monitor-grace-period 15m --kube-api-qps 1000 --kube-api-burst 1000 \
    --controllers '*,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller,-node-ipam-controller,-ttl-controller' \
    --profiling=false --v 1
}

# Healthy, and its serviceaccount controller has run: pods can be created in "default" and
# spotguard-system the moment 'up' returns.
wait_controller_manager() {
  wait_ready kube-controller-manager 60 python3 - "$KCM_PORT" <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
urllib.request.urlopen("https://127.0.0.1:%s/healthz" % sys.argv[1], context=ctx, timeout=2)
PY
  wait_ready kube-controller-manager 30 kubectl_admin get serviceaccount default -n default
  wait_ready kube-controller-manager 30 kubectl_admin get serviceaccount default -n spotguard-system
  echo "CONTROLLER_MANAGER_HEALTHZ=https://127.0.0.1:$KCM_PORT/healthz" >>"$DIR/controlplane.env"
}

start_kwok() {
  # Pod stages that honour the grace period: a deleted pod goes away at its
  # deletionTimestamp (= deletion + grace), as a kubelet would make it. Nodes heartbeat
  # through their status only (every 600-610 s, the heartbeat stage), without Leases: see
  # --node-monitor-grace-period in start_controller_manager.
  start kwok kwok --kubeconfig "$DIR/kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --config "$TOOLS_DIR/kwok-$KWOK_VERSION/stages-runner.yaml" \
    --node-ip 10.0.0.1 --server-address "127.0.0.1:$(free_port)"
  echo "KWOK=1" >>"$DIR/controlplane.env"
}

cmd_scheduler() {
  local cfg=$1
  need kube-scheduler
  [ -f "$cfg" ] || die "scheduler config $cfg not found"
  [ -f "$DIR/kubeconfig" ] || die "no control plane in $DIR; run 'up' first"
  stop_pid_file "$DIR/pids/kube-scheduler.pid"
  sed "s#__KUBECONFIG__#$DIR/scheduler.kubeconfig#g" "$cfg" >"$DIR/scheduler-config.yaml"
  local port; port=$(free_port)
  start kube-scheduler kube-scheduler --config "$DIR/scheduler-config.yaml" \
    --bind-address 127.0.0.1 --secure-port "$port" --v 2 \
    --authorization-always-allow-paths /healthz,/readyz,/livez,/metrics,/debug/pprof/*
  wait_ready kube-scheduler 60 python3 - "$port" <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
urllib.request.urlopen("https://127.0.0.1:%s/healthz" % sys.argv[1], context=ctx, timeout=2)
PY
  echo "SCHEDULER_HEALTHZ=https://127.0.0.1:$port/healthz" >>"$DIR/controlplane.env"
  echo "SCHEDULER_METRICS=https://127.0.0.1:$port/metrics" >>"$DIR/controlplane.env"
}

cmd_down() {
  [ -d "$DIR/pids" ] || return 0
  local self_watchdog="" rc=0
  # The real node first, while the API server can still see its pods deleted; the rest is
  # stopped even when that fails.
  if [ -f "$DIR/realnode/containerd.toml" ]; then "$here/realnode.sh" down "$DIR" || rc=1; fi
  for name in spark-operator kube-scheduler kwok kube-controller-manager kube-apiserver etcd; do stop_pid_file "$DIR/pids/$name.pid"; done
  # The watchdog may be the one calling 'down'; stopping it last is harmless either way.
  if [ -f "$DIR/pids/watchdog.pid" ]; then
    self_watchdog=$(cat "$DIR/pids/watchdog.pid")
    rm -f "$DIR/pids/watchdog.pid"
    [ "$self_watchdog" != "$$" ] && [ "$self_watchdog" != "$PPID" ] && kill -TERM -- "-$self_watchdog" 2>/dev/null || true
  fi
  return $rc
}

[ $# -ge 2 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
verb=$1; DIR=$(mkdir -p "$2" && cd "$2" && pwd); shift 2
case $verb in
  up) cmd_up "$@" ;;
  scheduler) [ $# -eq 1 ] || die "usage: scheduler DIR FILE"; cmd_scheduler "$1" ;;
  down) cmd_down ;;
  *) die "unknown command '$verb' (up | scheduler | down)" ;;
esac
