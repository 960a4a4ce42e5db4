# Pinned versions of the external components spotguard is tested against.
# Sourced by scripts/*.sh; change a version here and the caches rebuild.
KUBERNETES_VERSION=v1.36.3
# etcd: the release k8s.io/kubernetes pins. Debian's etcd 3.4 runs, but lacks the progress
# notifications the API server needs for streaming lists (RequestWatchProgress), which
# kube-scheduler's and kwok's informers use.
ETCD_VERSION=v3.6.8
KWOK_VERSION=v0.8.0
AEMM_VERSION=v1.12.0   # github.com/aws/amazon-ec2-metadata-mock (the newest the module proxy serves)
# aws-node-termination-handler, for the agent benchmark only (IMDS mode, side by side with
# spotguard-agent). v1.25.2 and v1.25.3 are refused by the module proxy (403).
NTH_VERSION=v1.25.1
HELM_VERSION=v3.19.0   # renders manifests/helm/spotguard; make test checks it against the kustomize base
# The monitoring manifests' CRDs (ServiceMonitor, PodMonitor, PrometheusRule), taken from this
# release's module on the proxy so make test can apply them to the real API server.
PROMETHEUS_OPERATOR_VERSION=v0.85.0
# cert-manager's CRDs (Issuer, Certificate) for manifests/components/cert-manager, from its
# module on the proxy, so make test can dry-run the component against the real API server.
CERT_MANAGER_VERSION=v1.16.2
# The Kubeflow Spark operator's controller (module github.com/kubeflow/spark-operator/v2, main
# package cmd/operator) and its chart (CRDs, RBAC), for SparkApplications. v2.5.2 is its newest
# release; the module proxy serves it, though it refuses the module's version list (403), so
# `go list -m -versions` shows nothing and a new version must be named exactly.
SPARK_OPERATOR_VERSION=v2.5.2

# A complete Spark, from the deps/ folder of PyPI's pyspark source distribution
# (scripts/fetch-spark.sh): bin/spark-submit, and spark-kubernetes_2.13 with fabric8's client.
SPARK_VERSION=4.0.1

# Where built binaries are cached, keyed by version, outside the build tree.
SPOTGUARD_CACHE=${SPOTGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spotguard}
TOOLS_DIR="$SPOTGUARD_CACHE/tools"
