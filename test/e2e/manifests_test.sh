#!/usr/bin/env bash
# Validates manifests/ against the real API server (scripts/controlplane.sh):
#   - yamllint; promtool check rules on the PrometheusRule's groups;
#   - every kustomization (base, overlays/aks, overlays/eks, monitoring with the Prometheus
#     Operator's CRDs) and the Spark pod templates pass a server-side dry-run;
#   - the base applies for real, and its RBAC grants exactly what each daemon needs
#     (kubectl auth can-i as each ServiceAccount) — the agent cannot touch pods;
#   - the agent's admission policy type-checks without warnings and is enforced: a token of
#     the agent's pod on one node writes that node's spotguard.io/ keys, nothing else, and
#     no other node (test/e2e/admission_e2e_test.cc has every case);
#   - kube-scheduler starts with manifests/base/scheduler-config.yaml.
# The e2e test binaries run the daemons under these same RBAC objects and policy.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/scripts/versions.sh"
PATH="$TOOLS_DIR/bin:$PATH"
failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; echo "$out" | sed 's/^/    /'; fi; }

for tool in kubectl kube-apiserver helm promtool yamllint python3; do
  command -v "$tool" >/dev/null || { echo "FAIL missing $tool: run scripts/deps.sh and scripts/build-tools.sh"; exit 1; }
done

check "yamllint manifests/" yamllint -c "$src/.yamllint" "$src/manifests"

# The Helm chart renders the kustomize base (and each overlay's values the overlay): no drift.
chart="$src/manifests/helm/spotguard"
check "helm lint" helm lint "$chart"
render_pair() {  # OVERLAY VALUES
  local k h; k=$(mktemp); h=$(mktemp)
  kubectl kustomize "$src/manifests/$1" >"$k" && helm template spotguard "$chart" ${2:+-f "$chart/$2"} 2>/dev/null >"$h" \
    && python3 "$src/scripts/compare-manifests.py" "$k" "$h"
  local rc=$?; rm -f "$k" "$h"; return $rc
}
check "helm chart renders manifests/base" render_pair base ""
check "helm chart with values-aks.yaml renders manifests/overlays/aks" render_pair overlays/aks values-aks.yaml
check "helm chart with values-eks.yaml renders manifests/overlays/eks" render_pair overlays/eks values-eks.yaml

rules=$(mktemp)
python3 -c 'import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"], open(sys.argv[2], "w"))' \
  "$src/manifests/monitoring/alerts.yaml" "$rules"
check "promtool check rules (PrometheusRule spotguard)" promtool check rules "$rules"
rm -f "$rules"

dir=$(mktemp -d /tmp/spotguard-manifests-XXXXXX)
trap '"$src/scripts/controlplane.sh" down "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
"$src/scripts/controlplane.sh" up "$dir" --owner-pid $$ >/dev/null
k() { kubectl --kubeconfig "$dir/kubeconfig" "$@"; }

k apply -f "$TOOLS_DIR/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION/" >/dev/null
# Established within a second or two (kubectl wait fails outright while status is empty).
for crd in servicemonitors podmonitors prometheusrules; do
  for _ in $(seq 1 300); do
    [ "$(k get crd "$crd.monitoring.coreos.com" -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ] && break
    sleep 0.2
  done
done

k apply -f "$TOOLS_DIR/cert-manager-crds-$CERT_MANAGER_VERSION/" >/dev/null
for crd in certificates issuers; do
  for _ in $(seq 1 300); do
    [ "$(k get crd "$crd.cert-manager.io" -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ] && break
    sleep 0.2
  done
done

for kz in base overlays/aks overlays/eks monitoring; do
  check "server-side dry-run: manifests/$kz" bash -c "kubectl kustomize '$src/manifests/$kz' | kubectl --kubeconfig '$dir/kubeconfig' apply --dry-run=server -f -"
done
for t in executor driver; do
  # Spark names the pods and fills in the containers' images; so does this check.
  check "server-side dry-run: manifests/spark/$t-pod-template.yaml" bash -c "python3 -c '
import sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
p[\"metadata\"][\"name\"] = \"spark-$t\"
for c in p[\"spec\"][\"containers\"]: c[\"image\"] = \"apache/spark:3.5.1\"
print(yaml.safe_dump(p))' '$src/manifests/spark/$t-pod-template.yaml' | kubectl --kubeconfig '$dir/kubeconfig' create --dry-run=server -n default -f -"
done
# The overlays differ from the base only where they should.
check "overlay aks: agent reads Azure, on AKS spot pools only" bash -c "kubectl kustomize '$src/manifests/overlays/aks' | grep -q -- '--cloud=azure'"
check "overlay eks: agent reads AWS" bash -c "kubectl kustomize '$src/manifests/overlays/eks' | grep -q -- '--cloud=aws'"
# Every Secret a pod mounts is one the cert-manager component issues (or make-certs.sh makes).
check "cert-manager component issues every TLS Secret the pods mount" python3 - "$src" <<'PY'
import subprocess, sys, yaml
docs = list(yaml.safe_load_all(subprocess.check_output(["kubectl", "kustomize", sys.argv[1] + "/manifests/overlays/eks"])))
issued = {d["spec"]["secretName"] for d in docs if d and d["kind"] == "Certificate"}
mounted = set()
for d in docs:
    if not d or d["kind"] not in ("Deployment", "DaemonSet"): continue
    for v in d["spec"]["template"]["spec"].get("volumes", []):
        if "secret" in v: mounted.add(v["secret"]["secretName"])
        for src in v.get("projected", {}).get("sources", []):
            if "secret" in src: mounted.add(src["secret"]["name"])
made = {"spotguard-extender-tls", "spotguard-scheduler-tls", "spotguard-agent-tls"}  # scripts/make-certs.sh --apply
missing = (mounted - issued) | (mounted - made)
assert mounted and not missing, f"mounted {sorted(mounted)}, not issued/made: {sorted(missing)}"
PY

check "apply manifests/base" bash -c "kubectl kustomize '$src/manifests/base' | kubectl --kubeconfig '$dir/kubeconfig' apply -f -"
check "objects exist" k -n spotguard-system get daemonset/spotguard-agent deployment/spotguard-extender \
  deployment/spotguard-scheduler service/spotguard-extender poddisruptionbudget/spotguard-extender

# can SA VERB RESOURCE[/SUBRESOURCE] [NAMESPACE] -> yes|no
can() {
  local res=$3 sub=""
  case $res in */*) sub=${res#*/}; res=${res%%/*} ;; esac
  case $res in leases.coordination.k8s.io) sub=""; res=$3 ;; esac
  k auth can-i --as "system:serviceaccount:spotguard-system:$1" "$2" "$res" ${sub:+--subresource "$sub"} ${4:+-n "$4"} 2>/dev/null || true
}
expect() {  # WANT SA VERB RESOURCE [NAMESPACE]
  local want=$1; shift
  local got; got=$(can "$@")
  if [ "$got" = "$want" ]; then pass "can-i $* = $want"; else fail "can-i $* = $got, want $want"; fi
}
expect yes spotguard-agent get nodes
expect yes spotguard-agent patch nodes
expect yes spotguard-agent create events default
expect no spotguard-agent create pods/eviction spark
expect no spotguard-agent delete pods spark
expect no spotguard-agent list pods spark
expect no spotguard-agent get secrets spotguard-system
expect yes spotguard-extender create pods/eviction spark
expect yes spotguard-extender patch pods spark
expect yes spotguard-extender create pods/binding spark
expect yes spotguard-extender watch nodes
expect yes spotguard-extender create tokenreviews.authentication.k8s.io
expect yes spotguard-extender create configmaps spotguard-system
expect no spotguard-extender create configmaps default
expect no spotguard-extender get secrets spotguard-system
expect yes spotguard-scheduler create pods/binding spark
# The extender reads the service-account issuer's keys to check the agents' tokens.
for url in /.well-known/openid-configuration /openid/v1/jwks; do
  got=$(k auth can-i --as system:serviceaccount:spotguard-system:spotguard-extender get "$url" 2>/dev/null || true)
  if [ "$got" = yes ]; then pass "can-i spotguard-extender get $url = yes"; else fail "can-i spotguard-extender get $url = $got, want yes"; fi
done
expect yes spotguard-scheduler get leases.coordination.k8s.io/spotguard-scheduler spotguard-system

# wait_for SECONDS CMD...: until CMD succeeds (what the API server takes in asynchronously).
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $deadline ] && { "$@"; return 1; }; sleep 0.2; done
}
policy=validatingadmissionpolicy/spotguard-agent-own-node
policy_type_checked() {  # the type checker has seen this generation and warns of nothing
  local seen; seen=$(k get $policy -o 'jsonpath={.status.observedGeneration}') || return 1
  [ -n "$seen" ] && [ "$seen" = "$(k get $policy -o 'jsonpath={.metadata.generation}')" ] &&
    [ -z "$(k get $policy -o 'jsonpath={.status.typeChecking.expressionWarnings}')" ]
}
check "agent admission policy type-checks without warnings" wait_for 60 policy_type_checked
# Two bare nodes and an agent pod bound to the first (no kubelet runs it: its token is enough).
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: manifests-node-a}
---
apiVersion: v1
kind: Node
metadata: {name: manifests-node-b}
---
apiVersion: v1
kind: Pod
metadata: {name: spotguard-agent-manifests-node-a, namespace: spotguard-system}
spec:
  nodeName: manifests-node-a
  serviceAccountName: spotguard-agent
  containers: [{name: agent, image: spotguard:test}]
YAML
agent_token=$(k create token spotguard-agent -n spotguard-system --bound-object-kind Pod \
  --bound-object-name spotguard-agent-manifests-node-a)
apiserver=$(sed -n 's/^APISERVER_URL=//p' "$dir/controlplane.env")
as_agent() {  # PATCH NODE: a dry-run merge patch with the agent's token
  kubectl --kubeconfig /dev/null --server "$apiserver" --certificate-authority "$dir/pki/ca.crt" \
    --token "$agent_token" patch node "$2" --dry-run=server --type merge -p "$1" 2>&1
}
refused() {  # WHY PATCH NODE: the policy refuses the patch, saying WHY
  local out; out=$(as_agent "$2" "$3") && return 1
  echo "$out" | grep -q "ValidatingAdmissionPolicy 'spotguard-agent-own-node'.*$1" || { echo "$out"; return 1; }
}
# Enforced a moment after it is created: the first refusal is waited for.
check "agent policy: the agent of node A may not cordon node B" \
  wait_for 30 refused "the spotguard-agent of node manifests-node-a may not write node manifests-node-b" \
  '{"spec":{"unschedulable":true}}' manifests-node-b
check "agent policy: nor label its own node node-role.kubernetes.io/control-plane" \
  refused "may change only spotguard.io/ labels; refused: node-role.kubernetes.io/control-plane" \
  '{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}' manifests-node-a
check "agent policy: the agent may cordon and label its own node" \
  as_agent '{"spec":{"unschedulable":true},"metadata":{"labels":{"spotguard.io/evicting":"true"}}}' manifests-node-a

# The scheduler configuration as deployed, plus where this control plane is.
cfg="$dir/scheduler-config.in.yaml"
"$src/scripts/make-certs.sh" "$dir/tls" >/dev/null
python3 - "$src/manifests/base/scheduler-config.yaml" "$cfg" "$dir/tls/scheduler" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["clientConnection"] = {"kubeconfig": "__KUBECONFIG__"}
for e in c["extenders"]:  # the Secret's files, as scripts/make-certs.sh makes them
    e["tlsConfig"] = {k: v.replace("/etc/spotguard/tls", sys.argv[3]) for k, v in e["tlsConfig"].items()}
yaml.safe_dump(c, open(sys.argv[2], "w"))
PY
check "kube-scheduler accepts manifests/base/scheduler-config.yaml" "$src/scripts/controlplane.sh" scheduler "$dir" "$cfg"

echo
if [ $failures -gt 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "all manifest checks passed"
