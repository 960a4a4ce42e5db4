#!/usr/bin/env bash
# The Kubeflow Spark operator's controller as a host process, against a control plane that
# scripts/controlplane.sh started, so SparkApplications are submitted by the real operator:
#
#   scripts/spark-operator.sh up DIR [NAMESPACE]
#       Applies the operator's CRDs and its chart's RBAC (ServiceAccount spark-operator-controller
#       in namespace spark-operator for the controller; spark-operator-spark in NAMESPACE for the
#       drivers), then starts 'spark-operator controller start' watching NAMESPACE (default
#       spark) only, without webhook or leader election, as that ServiceAccount. Returns once its
#       controllers run. Log: DIR/logs/spark-operator.log.
#   scripts/spark-operator.sh down DIR
#       Stops it (its CRDs and RBAC stay); 'controlplane.sh down DIR' does too.
#
# How the operator submits: it execs $SPARK_HOME/bin/spark-submit with its own environment and
# --master k8s://https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; spark-submit's
# fabric8 client then takes its credentials and CA from $KUBECONFIG, as the operator itself
# does (controller-runtime prefers KUBECONFIG to the in-cluster token). So both variables point
# at the API server and no in-pod paths are needed. It writes the pod templates it passes to
# spark-submit under the hard-coded /tmp/spark/<submission id>/ and keeps them unless the
# application has templates of its own: here /tmp/spark is a tmpfs of the operator's own mount
# namespace (unshare(1)), gone when it exits (the empty mount point stays on the host).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
. "$here/stop-pid-file.sh"
PATH="$TOOLS_DIR/bin:$PATH"

die() { echo "spark-operator: $*" >&2; exit 1; }

[ $# -ge 2 ] && { [ "$1" = up ] || [ "$1" = down ]; } || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
DIR=$(cd "$2" && pwd); ns=${3:-spark}
if [ "$1" = down ]; then
  stop_pid_file "$DIR/pids/spark-operator.pid"
  [ ! -f "$DIR/controlplane.env" ] || sed -i '/^SPARK_OPERATOR_NAMESPACE=/d' "$DIR/controlplane.env"
  exit 0
fi
[ -f "$DIR/controlplane.env" ] || die "no control plane in $DIR; run 'scripts/controlplane.sh up $DIR' first"
[ -f "$DIR/pids/spark-operator.pid" ] && die "$DIR already runs a Spark operator"
chart="$TOOLS_DIR/spark-operator-chart-$SPARK_OPERATOR_VERSION"
for b in spark-operator helm kubectl unshare; do command -v "$b" >/dev/null || die "missing $b; run 'make tools' (scripts/build-tools.sh)"; done
[ -f "$chart/.complete" ] || die "missing $chart; run 'make tools' (scripts/build-tools.sh)"
spark_home=$("$here/fetch-spark.sh")
apiserver=$(sed -n 's/^APISERVER_URL=//p' "$DIR/controlplane.env")
hostport=${apiserver#https://}
k() { kubectl --kubeconfig "$DIR/kubeconfig" "$@"; }

for n in spark-operator "$ns"; do k get namespace "$n" >/dev/null 2>&1 || k create namespace "$n" >/dev/null; done
# Server-side: each CRD is some 0.8 MB, past the 256 KiB annotation client-side apply writes.
k apply --server-side -f "$chart/crds/" >/dev/null
# 'kubectl wait --for condition=...' fails outright on a CRD that has no conditions yet.
deadline=$((SECONDS + 60))
for crd in sparkapplications scheduledsparkapplications sparkconnects; do
  until [ "$(k get "crd/$crd.sparkoperator.k8s.io" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" = True ]; do
    [ $SECONDS -lt $deadline ] || die "CRD $crd.sparkoperator.k8s.io not Established within 60 s"
    sleep 0.2
  done
done
# The chart's own RBAC and ServiceAccounts, rendered as a Helm install with these values would.
helm template spark-operator "$chart" --namespace spark-operator \
  --set "spark.jobNamespaces={$ns}" --set webhook.enable=false --set controller.leaderElection.enable=false \
  --show-only templates/controller/serviceaccount.yaml --show-only templates/controller/rbac.yaml \
  --show-only templates/spark/serviceaccount.yaml --show-only templates/spark/rbac.yaml \
  >"$DIR/spark-operator-rbac.yaml"
k apply -f "$DIR/spark-operator-rbac.yaml" >/dev/null
token=$(k create token spark-operator-controller -n spark-operator --duration 24h)
cat >"$DIR/spark-operator.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: spotguard-test
  cluster:
    server: $apiserver
    certificate-authority: $DIR/pki/ca.crt
users:
- name: spark-operator-controller
  user:
    token: $token
contexts:
- name: spotguard-test
  context: {cluster: spotguard-test, user: spark-operator-controller}
current-context: spotguard-test
KC

unshare_args=(--mount); [ "$(id -u)" = 0 ] || unshare_args+=(--map-root-user)
# No health-probe or metrics listener (the defaults bind :8081 and would clash between runs).
setsid env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$HOME" ${JAVA_HOME:+"JAVA_HOME=$JAVA_HOME"} SPARK_HOME="$spark_home" \
  KUBECONFIG="$DIR/spark-operator.kubeconfig" \
  KUBERNETES_SERVICE_HOST="${hostport%:*}" KUBERNETES_SERVICE_PORT="${hostport##*:}" \
  unshare "${unshare_args[@]}" /bin/sh -c 'set -e; mkdir -p /tmp/spark; mount -t tmpfs tmpfs /tmp/spark; exec "$@"' sh \
  "$(readlink -f "$TOOLS_DIR/bin/spark-operator")" controller start --namespaces="$ns" --leader-election=false \
    --health-probe-bind-address=0 --metrics-bind-address=0 --zap-log-level=info \
  </dev/null >"$DIR/logs/spark-operator.log" 2>&1 &
echo $! >"$DIR/pids/spark-operator.pid"
deadline=$((SECONDS + 60))
until grep -qs '"msg":"Starting workers","controller":"sparkapplication"' "$DIR/logs/spark-operator.log"; do
  if ! kill -0 "$(cat "$DIR/pids/spark-operator.pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "spark-operator: did not start; last log lines:" >&2; tail -n 20 "$DIR/logs/spark-operator.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "SPARK_OPERATOR_NAMESPACE=$ns" >>"$DIR/controlplane.env"
echo "spark-operator: $SPARK_OPERATOR_VERSION watching namespace $ns (drivers' ServiceAccount spark-operator-spark)"
