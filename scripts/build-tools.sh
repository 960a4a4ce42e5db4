#!/usr/bin/env bash
# Builds the real components spotguard's tests and demo run against, from the Go module
# proxy, into a cache keyed by version (scripts/versions.sh):
#   kube-apiserver, kube-scheduler, kube-controller-manager, kubelet, kubectl
#                                            (k8s.io/kubernetes, wrapper-module technique)
#   etcd                                     (go.etcd.io/etcd/server/v3)
#   kwok                                     (sigs.k8s.io/kwok)
#   helm                                     (helm.sh/helm/v3)
#   ec2-metadata-mock                        (github.com/aws/amazon-ec2-metadata-mock)
#   node-termination-handler                 (github.com/aws/aws-node-termination-handler; bench only)
#   spark-operator, and its chart with CRDs  (github.com/kubeflow/spark-operator/v2)
# Prints nothing but a summary when everything is already cached.
#
# Usage: scripts/build-tools.sh [--print-dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"

if [ "${1:-}" = "--print-dir" ]; then echo "$TOOLS_DIR"; exit 0; fi
command -v go >/dev/null || { echo "build-tools: 'go' is not on PATH; install Go (>= 1.26) first" >&2; exit 1; }

mkdir -p "$TOOLS_DIR"
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local CGO_ENABLED=0

# build_module NAME VERSION_DIR GO_MOD_BODY PACKAGES LDFLAGS
# Builds PACKAGES of a throwaway wrapper module into $TOOLS_DIR/NAME-VERSION/.
build_module() {
  local name=$1 out="$TOOLS_DIR/$2" gomod=$3 pkgs=$4 ldflags=$5
  # .complete lists the packages built: a changed list rebuilds.
  if [ -f "$out/.complete" ] && [ "$(cat "$out/.complete")" = "$pkgs" ]; then echo "build-tools: $2 cached in $out"; return; fi
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  printf '%s\n' "$gomod" > "$work/go.mod"
  { echo '//go:build tools'; echo 'package tools'; for p in $pkgs; do echo "import _ \"$p\""; done; } > "$work/tools.go"
  echo "build-tools: building $2 (this takes a while the first time)"
  local start=$SECONDS
  (cd "$work" && go mod tidy >/dev/null && mkdir -p "$out.tmp" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" $pkgs) || return 1
  rm -rf "$out" && mv "$out.tmp" "$out" && printf '%s' "$pkgs" >"$out/.complete"
  echo "build-tools: built $2 in $((SECONDS - start)) s"
}

# --- Kubernetes: require k8s.io/kubernetes and replace every staging module with its
# published v0.Y.Z twin (the list comes from that release's own go.mod).
k8s_minor=${KUBERNETES_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
staging_version="v0.${KUBERNETES_VERSION#v1.}"
k8s_pkgs="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl"
if [ "$(cat "$TOOLS_DIR/kubernetes-$KUBERNETES_VERSION/.complete" 2>/dev/null)" != "$k8s_pkgs" ]; then
  k8s_gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -n "$k8s_gomod" ] || { echo "build-tools: cannot download k8s.io/kubernetes@$KUBERNETES_VERSION" >&2; exit 1; }
  replaces=$(sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$k8s_gomod" \
    | while read -r m; do echo "replace $m => $m $staging_version"; done)
  go_directive=$(sed -n 's/^go \(.*\)/\1/p' "$k8s_gomod")
  build_module kubernetes "kubernetes-$KUBERNETES_VERSION" "module spotguard.local/tools/kubernetes

go $go_directive

require k8s.io/kubernetes $KUBERNETES_VERSION

$replaces" \
    "$k8s_pkgs" \
    "-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$k8s_minor"
fi

build_module etcd "etcd-$ETCD_VERSION" "module spotguard.local/tools/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION" \
  "go.etcd.io/etcd/server/v3" \
  "-s -w"
[ -f "$TOOLS_DIR/etcd-$ETCD_VERSION/server" ] && mv "$TOOLS_DIR/etcd-$ETCD_VERSION/server" "$TOOLS_DIR/etcd-$ETCD_VERSION/etcd"

build_module kwok "kwok-$KWOK_VERSION" "module spotguard.local/tools/kwok

go 1.26.0

require sigs.k8s.io/kwok $KWOK_VERSION" \
  "sigs.k8s.io/kwok/cmd/kwok" \
  "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"

build_module helm "helm-$HELM_VERSION" "module spotguard.local/tools/helm

go 1.26.0

require helm.sh/helm/v3 $HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm" \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"

build_module ec2-metadata-mock "ec2-metadata-mock-$AEMM_VERSION" "module spotguard.local/tools/aemm

go 1.22

require github.com/aws/amazon-ec2-metadata-mock $AEMM_VERSION" \
  "github.com/aws/amazon-ec2-metadata-mock/cmd" \
  "-s -w"
build_module node-termination-handler "node-termination-handler-$NTH_VERSION" "module spotguard.local/tools/nth

go 1.22

require github.com/aws/aws-node-termination-handler $NTH_VERSION" \
  "github.com/aws/aws-node-termination-handler/cmd" \
  "-s -w"

# The Kubeflow Spark operator's controller, and its Helm chart (crds/: the SparkApplication,
# ScheduledSparkApplication and SparkConnect CRDs, the same files as config/crd/bases; the RBAC
# templates). Its go.mod requires k8s.io/* v0.33 but replaces them all with v0.32.5; a wrapper
# module ignores its dependencies' replaces, so the block is copied and the binary links the
# k8s.io/* the release was built and tested with.
so_dir="$TOOLS_DIR/spark-operator-$SPARK_OPERATOR_VERSION"
so_chart="$TOOLS_DIR/spark-operator-chart-$SPARK_OPERATOR_VERSION"
so_pkgs="github.com/kubeflow/spark-operator/v2/cmd/operator"
if [ "$(cat "$so_dir/.complete" 2>/dev/null)" != "$so_pkgs" ] || [ ! -f "$so_chart/.complete" ]; then
  so_json=$(go mod download -json "github.com/kubeflow/spark-operator/v2@$SPARK_OPERATOR_VERSION")
  so_gomod=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' <<<"$so_json")
  so_src=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$so_json")
  [ -n "$so_src" ] || { echo "build-tools: cannot download github.com/kubeflow/spark-operator/v2@$SPARK_OPERATOR_VERSION" >&2; exit 1; }
  build_module spark-operator "spark-operator-$SPARK_OPERATOR_VERSION" "module spotguard.local/tools/spark-operator

go 1.26.0

require github.com/kubeflow/spark-operator/v2 $SPARK_OPERATOR_VERSION

$(sed -n '/^replace (/,/^)/p' "$so_gomod")" \
    "$so_pkgs" \
    "-s -w -X k8s.io/component-base/version.gitVersion=$SPARK_OPERATOR_VERSION -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
  # The module cache's copy is read-only: make ours writable, so a later rebuild can remove it.
  if [ ! -f "$so_chart/.complete" ]; then
    rm -rf "$so_chart.tmp" && cp -r "$so_src/charts/spark-operator-chart" "$so_chart.tmp" && chmod -R u+w "$so_chart.tmp"
    [ -f "$so_chart.tmp/crds/sparkoperator.k8s.io_sparkapplications.yaml" ] \
      || { echo "build-tools: spark-operator $SPARK_OPERATOR_VERSION's chart has no SparkApplication CRD" >&2; exit 1; }
    rm -rf "$so_chart" && mv "$so_chart.tmp" "$so_chart" && touch "$so_chart/.complete"
  fi
fi
# kwok's stages: nodes become Ready at once and keep a lease; pods run at once; a deleted
# pod disappears within its grace period (kwok's "general" pod-delete stage: somewhere between
# 1 s and its deletionTimestamp, as a real container exits somewhere inside its grace). Pods
# labelled spotguard.test/runner are left alone: the Spark pod runner (test/spark) runs them.
kwok_stages="$TOOLS_DIR/kwok-$KWOK_VERSION/stages-runner.yaml"
if [ ! -f "$kwok_stages" ]; then
  kwok_src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/general/pod-delete.yaml; do
    echo "---"; cat "$kwok_src/kustomize/stage/$f"
  done | awk '
    /^---/ { pod = 0 }
    /^    kind: Pod$/ { pod = 1 }
    { print }
    pod && /^    matchExpressions:$/ {
      print "    - key: \x27.metadata.labels[\"spotguard.test/runner\"]\x27"
      print "      operator: \x27DoesNotExist\x27"
    }' >"$kwok_stages.tmp"
  [ "$(grep -c spotguard.test/runner "$kwok_stages.tmp")" = 3 ] || { echo "build-tools: kwok's pod stages changed shape" >&2; exit 1; }
  mv "$kwok_stages.tmp" "$kwok_stages"
fi

# The Prometheus Operator's CRDs for the monitoring manifests (no operator runs: the API
# server only has to accept the objects).
crds="$TOOLS_DIR/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -f "$crds/.complete" ]; then
  po_src=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$po_src" ] || { echo "build-tools: cannot download prometheus-operator $PROMETHEUS_OPERATOR_VERSION" >&2; exit 1; }
  mkdir -p "$crds"
  for k in servicemonitors podmonitors prometheusrules; do
    cp "$po_src/example/prometheus-operator-crd/monitoring.coreos.com_$k.yaml" "$crds/"
  done
  touch "$crds/.complete"
fi

# cert-manager's CRDs for manifests/components/cert-manager (no cert-manager runs). Its
# deploy/crds files are Helm templates hidden in comments and quoted strings: the labels and
# annotations carrying them are dropped.
cm_crds="$TOOLS_DIR/cert-manager-crds-$CERT_MANAGER_VERSION"
if [ ! -f "$cm_crds/.complete" ]; then
  cm_src=$(go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \
    | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$cm_src" ] || { echo "build-tools: cannot download cert-manager $CERT_MANAGER_VERSION" >&2; exit 1; }
  mkdir -p "$cm_crds"
  for k in certificates issuers clusterissuers certificaterequests; do
    python3 -c 'import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["metadata"] = {"name": d["metadata"]["name"]}
yaml.safe_dump(d, open(sys.argv[2], "w"))' "$cm_src/deploy/crds/crd-$k.yaml" "$cm_crds/$k.yaml"
  done
  touch "$cm_crds/.complete"
fi

# Its main package is named 'cmd'; give the binary its real name.
aemm_dir="$TOOLS_DIR/ec2-metadata-mock-$AEMM_VERSION"
[ -f "$aemm_dir/cmd" ] && mv "$aemm_dir/cmd" "$aemm_dir/ec2-metadata-mock"
nth_dir="$TOOLS_DIR/node-termination-handler-$NTH_VERSION"
[ -f "$nth_dir/cmd" ] && mv "$nth_dir/cmd" "$nth_dir/node-termination-handler"
[ -f "$so_dir/operator" ] && mv "$so_dir/operator" "$so_dir/spark-operator"

# A real Spark for the Spark tests and benchmarks (SPARK_HOME: the path fetch-spark.sh prints).
spark_home=$("$here/fetch-spark.sh")
echo "build-tools: Spark $SPARK_VERSION in $spark_home"

# One directory of links, so everything else needs only $TOOLS_DIR/bin on PATH.
rm -rf "$TOOLS_DIR/bin"; mkdir -p "$TOOLS_DIR/bin"
for d in "kubernetes-$KUBERNETES_VERSION" "etcd-$ETCD_VERSION" "helm-$HELM_VERSION" "kwok-$KWOK_VERSION" "ec2-metadata-mock-$AEMM_VERSION" \
         "node-termination-handler-$NTH_VERSION" "spark-operator-$SPARK_OPERATOR_VERSION"; do
  for b in "$TOOLS_DIR/$d"/*; do [ -x "$b" ] || continue; ln -sf "$b" "$TOOLS_DIR/bin/$(basename "$b")"; done
done
echo "build-tools: binaries in $TOOLS_DIR/bin"
