#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for spotguard's tests, the demo and exploring:
# etcd + kube-apiserver (RBAC on, ServiceAccount token issuing, client-certificate admin),
# optionally kube-scheduler and kwok (simulated nodes and pod lifecycles, grace honoured).
#
#   scripts/controlplane.sh up DIR [--kwok] [--scheduler-config FILE] [--owner-pid PID]
#       Starts everything on free loopback ports, writes DIR/kubeconfig (cluster-admin) and
#       DIR/controlplane.env, and returns once the API server is ready. With --owner-pid, a
#       watchdog tears everything down when that process exits (even if it was killed).
#   scripts/controlplane.sh scheduler DIR FILE
#       (Re)starts kube-scheduler with the KubeSchedulerConfiguration FILE. The string
#       __KUBECONFIG__ in FILE is replaced by the scheduler's own kubeconfig (user
#       system:kube-scheduler, bound by the API server's bootstrap RBAC).
#   scripts/controlplane.sh down DIR
#       Stops everything started in DIR. Safe to call twice.
#
# Binaries come from scripts/build-tools.sh (cache keyed by version) and Debian's etcd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
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

stop_pid_file() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
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
  need etcd kube-apiserver kubectl openssl python3
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

  # No kube-controller-manager runs here, so nothing would ever lift the not-ready taint that
  # TaintNodesByCondition puts on new nodes, nor create default ServiceAccounts: both
  # admission plugins are off. configmaps bypass the watch cache, so an e2e test can compact etcd under a watch and
  # see the real 410 Gone -> relist path; everything else is served as in production.
  start kube-apiserver kube-apiserver \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --cert-dir "$DIR/pki" --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
    --client-ca-file "$DIR/pki/ca.crt" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$DIR/pki/sa.pub" --service-account-signing-key-file "$DIR/pki/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/16 \
    --disable-admission-plugins ServiceAccount,TaintNodesByCondition --endpoint-reconciler-type none \
    --watch-cache-sizes configmaps#0 \
    --profiling=false --v 1
  write_kubeconfig "$DIR/kubeconfig" spotguard-test-admin "$DIR/pki/admin.crt" "$DIR/pki/admin.key"
  write_kubeconfig "$DIR/scheduler.kubeconfig" system:kube-scheduler "$DIR/pki/scheduler.crt" "$DIR/pki/scheduler.key"
  wait_ready kube-apiserver 90 kubectl_admin get --raw /readyz
  # Objects a real cluster has that no controller creates here.
  kubectl_admin create namespace spotguard-system >/dev/null 2>&1 || true

  cat >"$DIR/controlplane.env" <<ENV
KUBECONFIG=$DIR/kubeconfig
APISERVER_URL=https://127.0.0.1:$API_PORT
ETCD_URL=http://127.0.0.1:$ETCD_PORT
KUBERNETES_VERSION=$KUBERNETES_VERSION
ENV

  if [ $kwok = 1 ]; then start_kwok; fi
  if [ -n "$sched_cfg" ]; then cmd_scheduler "$sched_cfg"; fi
  echo "controlplane: up in $DIR (API server https://127.0.0.1:$API_PORT, Kubernetes $KUBERNETES_VERSION)"
  echo "controlplane: export KUBECONFIG=$DIR/kubeconfig"
}

start_kwok() {
  # Pod stages that honour the grace period: a deleted pod goes away at its
  # deletionTimestamp (= deletion + grace), as a kubelet would make it.
  start kwok kwok --kubeconfig "$DIR/kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --config "$TOOLS_DIR/kwok-$KWOK_VERSION/stages.yaml" \
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
  local self_watchdog=""
  for name in kube-scheduler kwok kube-apiserver etcd; do stop_pid_file "$DIR/pids/$name.pid"; done
  # The watchdog may be the one calling 'down'; stopping it last is harmless either way.
  if [ -f "$DIR/pids/watchdog.pid" ]; then
    self_watchdog=$(cat "$DIR/pids/watchdog.pid")
    rm -f "$DIR/pids/watchdog.pid"
    [ "$self_watchdog" != "$$" ] && [ "$self_watchdog" != "$PPID" ] && kill -TERM -- "-$self_watchdog" 2>/dev/null || true
  fi
}

[ $# -ge 2 ] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
verb=$1; DIR=$(mkdir -p "$2" && cd "$2" && pwd); shift 2
case $verb in
  up) cmd_up "$@" ;;
  scheduler) [ $# -eq 1 ] || die "usage: scheduler DIR FILE"; cmd_scheduler "$1" ;;
  down) cmd_down ;;
  *) die "unknown command '$verb' (up | scheduler | down)" ;;
esac
