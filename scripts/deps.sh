#!/usr/bin/env bash
# Installs every Debian package spotguard's build, tests, benchmarks and demo need.
# Idempotent and quick when everything is present (no apt-get at all then).
# Go is not a Debian package here (Debian's is too old for Kubernetes): it must be on PATH.
#
# Usage: scripts/deps.sh [--check]    (--check: report what is missing, install nothing)
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ make cmake ninja-build pkg-config git ca-certificates openssl python3 python3-yaml
  # libraries (all from Debian: no vendored sources)
  libabsl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcpp-httplib-dev prometheus-cpp-dev nlohmann-json3-dev libsimdjson-dev libyaml-cpp-dev
  libssl-dev zlib1g-dev libbrotli-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # manifest checks (promtool) and linting
  prometheus yamllint
  # a real Spark (scripts/fetch-spark.sh): its JVM, and pip to fetch it from PyPI
  openjdk-17-jdk-headless python3-pip
  # the image (scripts/build-image.sh): buildah builds the Dockerfile without a daemon,
  # debootstrap makes its Debian base images
  buildah debootstrap
  # the real node (scripts/realnode.sh): kubelet's container runtime and pod network, iptables
  # for both, gcc's static libc for the pause image, busybox for the test image
  containerd runc containernetworking-plugins iptables iproute2 gcc libc6-dev busybox-static
)
GO_MIN=1.26

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

go_ok=1
if ! command -v go >/dev/null 2>&1; then
  go_ok=0; go_msg="Go is not on PATH"
else
  have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  if [ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -1)" != "$GO_MIN" ]; then
    go_ok=0; go_msg="Go $have is older than $GO_MIN"
  fi
fi

if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] || echo "deps: missing Debian packages: ${missing[*]}"
  [ $go_ok = 1 ] || echo "deps: $go_msg"
  [ ${#missing[@]} -eq 0 ] && [ $go_ok = 1 ]
  exit
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run 'sudo scripts/deps.sh' (installing them needs root)" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $go_ok = 0 ]; then
  echo "deps: $go_msg; install Go >= $GO_MIN (the control-plane binaries are built from the Go module proxy)" >&2
  exit 1
fi
echo "deps: all present"
