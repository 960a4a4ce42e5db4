#!/usr/bin/env bash
# Builds the spotguard image from the Dockerfile with buildah (no container daemon, no
# registry) and writes it as an OCI archive into the cache outside the build tree, keyed by
# its inputs: unchanged inputs cost nothing, changed ones rebuild. Prints the archive's path;
# `ctr -n k8s.io images import ARCHIVE` loads it as ghcr.io/spotguard/spotguard:VERSION.
#
# The base images the Dockerfile names, debian:bookworm and debian:bookworm-slim, are made
# here from Debian's packages (debootstrap, minbase; slim drops docs, man pages and locales
# and keeps them out with dpkg path-excludes, as Debian's official slim images do), and
# cached by suite and recipe revision. Each run builds in a private, throwaway buildah
# storage (vfs driver, chroot isolation): nothing stays mounted or registered afterwards.
#
# Usage: scripts/build-image.sh [--prebuilt BIN_DIR] [--print-path]
#   (no option)          compile inside the image, as `docker build .` does (JOBS=N: ninja -j N)
#   --prebuilt BIN_DIR   take spotguard-agent and spotguard-extender from BIN_DIR (the host
#                        build's bin/, e.g. build/bin) through the Dockerfile's BINARIES=prebuilt
#   --print-path         print the archive path these inputs give, build nothing
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/versions.sh"

DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
BASE_REVISION=1   # bump when the base-image recipe below changes: the bases rebuild
version=$(sed -n 's/^project(spotguard VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
IMAGE="ghcr.io/spotguard/spotguard:$version"
IMAGE_DIR="$SPOTGUARD_CACHE/image"
BASE_DIR="$IMAGE_DIR/debian-$DEBIAN_SUITE-r$BASE_REVISION"

prebuilt="" print_path=0
while [ $# -gt 0 ]; do
  case $1 in
    --prebuilt) prebuilt=${2:?--prebuilt needs a directory}; shift 2 ;;
    --print-path) print_path=1; shift ;;
    *) echo "build-image: unknown argument $1 (usage: $0 [--prebuilt BIN_DIR] [--print-path])" >&2; exit 2 ;;
  esac
done
if [ -n "$prebuilt" ]; then
  prebuilt=$(cd "$prebuilt" && pwd)
  for b in spotguard-agent spotguard-extender; do
    [ -x "$prebuilt/$b" ] || { echo "build-image: $prebuilt/$b is missing: build it first" >&2; exit 1; }
  done
fi

# The key: this script, the Dockerfile and .dockerignore, the base images' recipe, and either
# what the Dockerfile copies from the context (its COPY sources) or the prebuilt binaries.
inputs_key() {
  { echo "base $DEBIAN_SUITE-r$BASE_REVISION"
    cd "$root"
    sha256sum scripts/build-image.sh Dockerfile .dockerignore
    if [ -n "$prebuilt" ]; then
      (cd "$prebuilt" && sha256sum spotguard-agent spotguard-extender)
    else
      awk '$1 == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i }' Dockerfile \
        | xargs -I{} find {} -type f | LC_ALL=C sort | xargs -d '\n' sha256sum
    fi
  } | sha256sum | cut -c1-16
}
mode=$([ -n "$prebuilt" ] && echo prebuilt || echo compiled)
out="$IMAGE_DIR/spotguard-$version-$mode-$(inputs_key).oci.tar"
if [ $print_path = 1 ]; then echo "$out"; exit 0; fi
if [ -f "$out" ]; then echo "build-image: $IMAGE cached" >&2; echo "$out"; exit 0; fi

# --- tools: buildah and debootstrap are in scripts/deps.sh's list.
if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
  "$here/deps.sh" >&2
fi
[ "$(id -u)" = 0 ] || { echo "build-image: needs root (debootstrap, and buildah's chroot builds)" >&2; exit 1; }

# --- a private buildah storage for this run, removed on exit. Runs killed outright leave
# their directory behind: the next run removes those whose process is gone.
# remove_tree DIR: unmounts what is still mounted below DIR (a debootstrap killed outright
# leaves its target's /proc and /sys), then removes DIR without crossing into any mount.
remove_tree() {
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$1"
}
tmp_parent=${TMPDIR:-/tmp}
for stale in "$tmp_parent"/spotguard-image-*; do
  [ -d "$stale" ] || continue
  pid=${stale##*/spotguard-image-}; pid=${pid%%-*}
  kill -0 "$pid" 2>/dev/null || remove_tree "$stale"
done
work=$(mktemp -d "$tmp_parent/spotguard-image-$$-XXXXXX")
BUILDAH=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
bah() { nice "${BUILDAH[@]}" "$@"; }
# in_background CMD...: runs the long steps as a child this shell waits for, so that INT or
# TERM stops them at once rather than when they finish.
child=""
in_background() { local rc=0; "$@" & child=$!; wait "$child" || rc=$?; child=""; return $rc; }
# buildah also keeps a blob-info cache in /var/lib/containers/cache whatever --root says:
# removed again when this run made it.
[ -e /var/lib/containers ] && made_var_lib=0 || made_var_lib=1
cleanup() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null || true; fi
  bah rm --all >/dev/null 2>&1 || true
  remove_tree "$work"
  [ $made_var_lib = 0 ] || rm -rf /var/lib/containers
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$work/tmp" "$IMAGE_DIR"
export TMPDIR="$work/tmp" BUILDAH_ISOLATION=chroot

# --- base images: debootstrap once, cached as OCI archives.
make_bases() {
  local start=$SECONDS rootfs="$work/rootfs" c
  echo "build-image: debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR" >&2
  in_background nice debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; return 1; }
  # No device nodes, and nothing of this machine (hostname, resolv.conf): the runtime mounts those.
  tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    --exclude=./etc/hostname --exclude=./etc/resolv.conf -cf "$work/rootfs.tar" .
  rm -rf "$rootfs"
  c=$(bah from scratch)
  bah add --quiet "$c" "$work/rootfs.tar" / >/dev/null
  rm -f "$work/rootfs.tar"
  # Sources and apt settings as in Debian's official images; then the suite's updates.
  in_background nice "${BUILDAH[@]}" run "$c" -- sh -euc '
    rm -f /etc/apt/sources.list
    cat >/etc/apt/sources.list.d/debian.sources <<EOF
Types: deb
URIs: '"$DEBIAN_MIRROR"'
Suites: '"$DEBIAN_SUITE $DEBIAN_SUITE"'-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: '"${DEBIAN_MIRROR}"'-security
Suites: '"$DEBIAN_SUITE"'-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >/etc/apt/apt.conf.d/docker-clean <<"EOF"
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo "Acquire::Languages \"none\";" >/etc/apt/apt.conf.d/docker-no-languages
    echo "Acquire::GzipIndexes \"true\";" >/etc/apt/apt.conf.d/docker-gzip-indexes
    echo "Apt::AutoRemove::SuggestsImportant \"false\";" >/etc/apt/apt.conf.d/docker-autoremove-suggests
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get upgrade -y -qq >/dev/null
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt/* /var/log/*.log /tmp/* /var/tmp/*
  ' >&2
  bah config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  bah commit --quiet --squash --rm "$c" "docker.io/library/debian:$DEBIAN_SUITE" >/dev/null
  # slim: the same without docs, man pages, info and locales, kept out of later installs too.
  c=$(bah from --pull=never "docker.io/library/debian:$DEBIAN_SUITE")
  bah run "$c" -- sh -euc '
    cat >/etc/dpkg/dpkg.cfg.d/docker <<"EOF"
# The "slim" variant: files containers do not need are left out, and stay out.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    find /usr/share/doc -depth -mindepth 1 ! -name copyright ! -type d -delete
    find /usr/share/doc -depth -mindepth 1 -type d -empty -delete
    rm -rf /usr/share/groff/* /usr/share/info/* /usr/share/linda/* /usr/share/lintian/overrides/* \
      /usr/share/locale/* /usr/share/man/*
  ' >&2
  bah commit --quiet --squash --rm "$c" "docker.io/library/debian:$DEBIAN_SUITE-slim" >/dev/null
  local dir="$BASE_DIR.tmp.$$"
  rm -rf "$dir" && mkdir -p "$dir"
  for tag in "$DEBIAN_SUITE" "$DEBIAN_SUITE-slim"; do
    bah push --quiet "docker.io/library/debian:$tag" "oci-archive:$dir/$tag.oci.tar:docker.io/library/debian:$tag" >&2
  done
  rm -rf "$BASE_DIR" && mv "$dir" "$BASE_DIR"
  echo "build-image: made debian:$DEBIAN_SUITE and debian:$DEBIAN_SUITE-slim in $((SECONDS - start)) s ($BASE_DIR)" >&2
}
if [ -f "$BASE_DIR/$DEBIAN_SUITE.oci.tar" ] && [ -f "$BASE_DIR/$DEBIAN_SUITE-slim.oci.tar" ]; then
  for tag in "$DEBIAN_SUITE" "$DEBIAN_SUITE-slim"; do
    [ -n "$prebuilt" ] && [ "$tag" = "$DEBIAN_SUITE" ] && continue   # the build stage is skipped
    id=$(bah pull --quiet "oci-archive:$BASE_DIR/$tag.oci.tar")
    bah tag "$id" "docker.io/library/debian:$tag"
  done
else
  make_bases
fi

# --- the image.
start=$SECONDS
args=(--pull=never --isolation chroot --layers=false -f "$root/Dockerfile" -t "$IMAGE")
if [ -n "$prebuilt" ]; then
  mkdir "$work/host-bin"
  for b in spotguard-agent spotguard-extender; do strip -o "$work/host-bin/$b" "$prebuilt/$b"; done
  args+=(--build-arg BINARIES=prebuilt --build-context "host-bin=$work/host-bin")
else
  # Named although it is the Dockerfile's default: buildah 1.28 skips the stage a FROM ${ARG}
  # names when the ARG keeps its default value.
  args+=(--build-arg BINARIES=build --build-arg "CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-$(nproc)}")
fi
echo "build-image: building $IMAGE ($mode)" >&2
in_background nice "${BUILDAH[@]}" build "${args[@]}" "$root" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
echo "build-image: built $IMAGE ($mode) in $((SECONDS - start)) s" >&2

# --- check it as a node would run it: non-root, and both daemons start (every shared
# library they link is in the image).
user=$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
[ "$user" = 65532:65532 ] || { echo "build-image: the image runs as '$user', not 65532:65532" >&2; exit 1; }
c=$(bah from --pull=never "$IMAGE")
for b in spotguard-agent spotguard-extender; do
  if ! got=$(bah run --user 65532:65532 "$c" -- "/usr/local/bin/$b" --version 2>&1) || [ "$got" != "$b $version" ]; then
    echo "build-image: $b does not start in the image:" >&2
    echo "$got" >&2
    bah run "$c" -- /lib64/ld-linux-x86-64.so.2 --list "/usr/local/bin/$b" 2>&1 | grep 'not found' >&2 || true
    exit 1
  fi
done
bah rm "$c" >/dev/null

rm -f "$out.tmp.$$"
bah push --quiet "$IMAGE" "oci-archive:$out.tmp.$$:$IMAGE" >&2
# One archive per mode: older ones go.
find "$IMAGE_DIR" -maxdepth 1 -name "spotguard-*-$mode-*.oci.tar" ! -name "${out##*/}" -delete
mv "$out.tmp.$$" "$out"
echo "build-image: $IMAGE is $(du -m "$out" | cut -f1) MB as an archive" >&2
echo "$out"
