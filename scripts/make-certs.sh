#!/usr/bin/env bash
# Makes the TLS material spotguard's two hops use, signed by a new CA:
#   OUT/extender/  server certificate of spotguard-extender (scheduler API and gRPC)
#   OUT/scheduler/ client certificate kube-scheduler presents to the extender
#   OUT/agent/     client certificate an agent may present (mutual TLS on gRPC)
# each as tls.crt, tls.key and ca.crt: the layout of a kubernetes.io/tls Secret with the CA,
# as cert-manager writes it. The CA's key stays in OUT/ca/ (keep it out of the cluster).
#
#   scripts/make-certs.sh OUT [--namespace NS] [--dns NAME]... [--days N]
#   scripts/make-certs.sh OUT --apply     # also create the three Secrets with kubectl
#
# The demo and the e2e tests make theirs with it; users without cert-manager too (README).
set -euo pipefail
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[ $# -ge 1 ] || usage 2
case $1 in -h|--help) usage 0 ;; esac
out=$1; shift
ns=spotguard-system days=365 apply=0 dns=()
while [ $# -gt 0 ]; do
  case $1 in
    --namespace) ns=$2; shift 2 ;;
    --dns) dns+=("$2"); shift 2 ;;
    --days) days=$2; shift 2 ;;
    --apply) apply=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "make-certs.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is missing (apt-get install openssl)" >&2; exit 1; }
umask 077
mkdir -p "$out/ca"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
if [ ! -s "$out/ca/ca.crt" ]; then
  key "$out/ca/ca.key"
  openssl req -x509 -new -key "$out/ca/ca.key" -days "$days" -subj "/CN=spotguard-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$out/ca/ca.crt" 2>/dev/null
fi
# issue NAME CN USAGE [SAN]
issue() {
  local d="$out/$1"
  mkdir -p "$d"
  key "$d/tls.key"
  openssl req -new -key "$d/tls.key" -subj "/CN=$2" -out "$d/tls.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -z "${4:-}" ] || echo "subjectAltName=$4"
  } >"$d/ext.cnf"
  openssl x509 -req -in "$d/tls.csr" -CA "$out/ca/ca.crt" -CAkey "$out/ca/ca.key" -CAcreateserial \
    -days "$days" -extfile "$d/ext.cnf" -out "$d/tls.crt" 2>/dev/null
  cp "$out/ca/ca.crt" "$d/ca.crt"
  rm -f "$d/tls.csr" "$d/ext.cnf"
}
san="DNS:spotguard-extender.$ns.svc,DNS:spotguard-extender.$ns.svc.cluster.local,DNS:localhost,IP:127.0.0.1"
for d in "${dns[@]}"; do san="$san,DNS:$d"; done
issue extender spotguard-extender serverAuth "$san"
issue scheduler spotguard-scheduler clientAuth
issue agent spotguard-agent clientAuth
chmod 0644 "$out"/*/tls.crt "$out"/*/ca.crt
if [ "$apply" = 1 ]; then
  for s in extender scheduler agent; do
    kubectl -n "$ns" create secret generic "spotguard-$s-tls" --type=kubernetes.io/tls \
      --from-file=tls.crt="$out/$s/tls.crt" --from-file=tls.key="$out/$s/tls.key" --from-file=ca.crt="$out/$s/ca.crt" \
      --dry-run=client -o yaml | kubectl apply -f -
  done
fi
echo "$out"
