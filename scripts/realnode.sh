#!/usr/bin/env bash
# One real node beside the kwok nodes of a harness control plane (scripts/controlplane.sh):
# kubelet (scripts/build-tools.sh's) with Debian's containerd, runc and CNI plugins, registered
# as this machine's hostname, running real containers from OCI archives (no registry needed).
#
#   scripts/realnode.sh up DIR [--import ARCHIVE]...
#       DIR holds a control plane made by `controlplane.sh up DIR`. Starts containerd and
#       kubelet, imports the node's own images (pause, and busybox for tests) and each ARCHIVE,
#       and returns once the node is Ready. Writes DIR/realnode.env (node name, image names).
#       A failed `up` tears down what it started.
#   scripts/realnode.sh import DIR ARCHIVE
#       Imports an OCI archive (e.g. `scripts/build-image.sh --print-path`'s) into the node.
#   scripts/realnode.sh down DIR
#       Deletes the node's pods (their grace honoured, 30 s at most) and the Node, stops
#       kubelet, containerd and every shim and container, and removes what they made on the
#       host: mounts, cgroups, network namespaces, the CNI bridge, CNI's and kubelet's
#       iptables chains, kubelet's sysctls (restored), state directories. Fails listing
#       anything still left. `controlplane.sh down DIR` calls it, so the control plane's
#       owner watchdog tears the node down too. Safe to call twice.
#
# One real node per machine: containerd's shims and the pod network use fixed host paths, so
# the node lives in fixed places (below) under a lock, and `up` cleans up after a node whose
# processes died without `down`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
PATH="$TOOLS_DIR/bin:$PATH"

NODE_ROOT=/var/lib/spotguard-realnode   # containerd's root, kubelet's root, pod logs
NODE_RUN=/run/spotguard-realnode        # containerd's state and socket, runc's root, CNI, pids
LOCK=/run/lock/spotguard-realnode.lock
CGROUP_ROOT=spotguard-realnode          # kubelet's cgroupRoot, in every hierarchy
BRIDGE=spotguard0
POD_SUBNET=10.244.250.0/24
CNI_NETWORK=spotguard-realnode
SOCK=$NODE_RUN/containerd/containerd.sock
NODE_NAME=$(hostname)
# The node's own images, built here and cached by this script's hash.
PAUSE_IMAGE=localhost/spotguard/pause:$KUBERNETES_VERSION
BUSYBOX_IMAGE=localhost/spotguard/busybox:1
IMAGE_CACHE="$SPOTGUARD_CACHE/realnode"
# What kubelet sets at start (its container manager's kernel tunables, CNI's bridge: ip_forward).
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward"

UP_OK=0

die() { echo "realnode: $*" >&2; exit 1; }
log() { echo "realnode: $*" >&2; }

need() {
  local missing=()
  for b in "$@"; do command -v "$b" >/dev/null || missing+=("$b"); done
  for p in bridge host-local loopback portmap; do [ -x "/usr/lib/cni/$p" ] || missing+=("/usr/lib/cni/$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  die "missing ${missing[*]} (looked in $TOOLS_DIR/bin and PATH); run 'scripts/deps.sh' (containerd, runc, containernetworking-plugins, busybox-static, buildah) and 'make tools' (kubelet)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cgroup_hierarchies() { awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts; }

# start NAME CMD...: CMD in its own session without the lock's descriptor, output to
# DIR/logs/NAME.log, pid to $NODE_RUN/pids/NAME.pid.
start() {
  local name=$1; shift
  setsid "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 9>&- &
  echo $! >"$NODE_RUN/pids/$name.pid"
}

# stop NAME: TERM to its process group, KILL after 10 s.
stop() {
  local f="$NODE_RUN/pids/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# alive NAME: its process runs (a killed one may linger as a zombie until init reaps it).
alive() {
  local f="$NODE_RUN/pids/$1.pid"
  [ -f "$f" ] && [ "$(cut -d' ' -f3 "/proc/$(cat "$f")/stat" 2>/dev/null)" != Z ] && [ -e "/proc/$(cat "$f")" ]
}

# until_true SECONDS NAME CMD...: runs CMD every 0.2 s until it succeeds; fails when the
# process NAME exits or SECONDS pass, with the end of its log.
until_true() {
  local secs=$1 name=$2 deadline=$((SECONDS + $1)); shift 2
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name" || [ $SECONDS -ge $deadline ]; then
      if alive "$name"; then log "$name: not ready after $secs s ($*); last log lines:"; else log "$name exited; last log lines:"; fi
      tail -n 20 "$DIR/logs/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# --- images -------------------------------------------------------------------------------

# The pause image from Kubernetes' own pause.c (statically linked, as upstream's), and a
# busybox image from Debian's static busybox: OCI archives in $IMAGE_CACHE keyed by their
# inputs (pause.c, busybox, this script), built with buildah in a throwaway vfs storage.
find_images() {
  PAUSE_C="$(go env GOMODCACHE)/k8s.io/kubernetes@$KUBERNETES_VERSION/build/pause/linux/pause.c"
  [ -f "$PAUSE_C" ] || go mod download "k8s.io/kubernetes@$KUBERNETES_VERSION" >&2 \
    || die "cannot fetch k8s.io/kubernetes@$KUBERNETES_VERSION for pause.c (the Go module proxy)"
  [ -f "$PAUSE_C" ] || die "$PAUSE_C is missing"
  local key
  key=$(sha256sum "$PAUSE_C" "$(command -v busybox)" "$here/realnode.sh" | sha256sum | cut -c1-16)
  PAUSE_ARCHIVE="$IMAGE_CACHE/pause-$key.oci.tar"
  BUSYBOX_ARCHIVE="$IMAGE_CACHE/busybox-$key.oci.tar"
  [ -f "$PAUSE_ARCHIVE" ] && [ -f "$BUSYBOX_ARCHIVE" ] && return
  log "building $PAUSE_IMAGE and $BUSYBOX_IMAGE"
  build_images "$key"
}

build_images() (
  key=$1
  work=$(mktemp -d "${TMPDIR:-/tmp}/spotguard-realnode-images-XXXXXX")
  bah=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
  # buildah keeps a blob-info cache in /var/lib/containers and a lock in /etc/cni/net.d
  # whatever --root says: removed again when this run made them.
  made=(); for d in /var/lib/containers /etc/cni; do [ -e "$d" ] || made+=("$d"); done
  trap '"${bah[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$work" "${made[@]}"' EXIT
  mkdir -p "$work/pause" "$work/busybox/bin" "$IMAGE_CACHE"
  gcc -Os -Wall -Werror -static -DVERSION="$KUBERNETES_VERSION-spotguard" -o "$work/pause/pause" "$PAUSE_C" \
    || die "gcc could not build $PAUSE_C statically (libc6-dev: scripts/deps.sh)"
  strip "$work/pause/pause"
  cp "$(command -v busybox)" "$work/busybox/bin/busybox"
  for applet in $("$work/busybox/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$work/busybox/bin/$applet"
  done
  # image NAME ROOTFS OUT CONFIG...: ROOTFS as the only layer, owned by root.
  image() {
    local name=$1 rootfs=$2 out=$3 c; shift 3
    tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/layer.tar" .
    c=$("${bah[@]}" from scratch)
    "${bah[@]}" add --quiet "$c" "$work/layer.tar" / >/dev/null
    "${bah[@]}" config "$@" "$c"
    "${bah[@]}" commit --quiet --rm "$c" "$name" >/dev/null
    "${bah[@]}" push --quiet "$name" "oci-archive:$out.tmp:$name"
    mv "$out.tmp" "$out"
  }
  image "$PAUSE_IMAGE" "$work/pause" "$PAUSE_ARCHIVE" --entrypoint '["/pause"]' --user 65535:65535
  image "$BUSYBOX_IMAGE" "$work/busybox" "$BUSYBOX_ARCHIVE" --cmd sh --env PATH=/bin
  find "$IMAGE_CACHE" -maxdepth 1 -name '*.oci.tar' ! -name "*-$key.oci.tar" -delete
)

import_archive() {
  [ -f "$1" ] || die "no OCI archive at $1"
  ctr --address "$SOCK" -n k8s.io images import "$1" >&2 || die "ctr could not import $1 (containerd log: $DIR/logs/containerd.log)"
}

# --- configuration ------------------------------------------------------------------------

write_certs() {
  local p="$DIR/realnode/pki" node_ip=$1
  mkdir -p "$p"
  # sign NAME SUBJECT EXTENSIONS
  sign() {
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$p/$1.ext"
    openssl x509 -req -in "$p/$1.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" -CAcreateserial \
      -days 30 -extfile "$p/$1.ext" -out "$p/$1.crt" 2>/dev/null
  }
  sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "extendedKeyUsage=clientAuth"
  sign kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" \
    "extendedKeyUsage=serverAuth
subjectAltName=DNS:$NODE_NAME,IP:$node_ip,IP:127.0.0.1"
  cat >"$DIR/realnode/kubelet.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: spotguard-test
  cluster: {server: "$APISERVER_URL", certificate-authority: "$DIR/pki/ca.crt"}
users:
- name: system:node:$NODE_NAME
  user: {client-certificate: "$p/kubelet-client.crt", client-key: "$p/kubelet-client.key"}
contexts:
- name: spotguard-test
  context: {cluster: spotguard-test, user: "system:node:$NODE_NAME"}
current-context: spotguard-test
KC
}

write_containerd_config() {
  # restrict_oom_score_adj: kubelet asks for negative oom_score_adj (Guaranteed pods,
  # sandboxes), which needs CAP_SYS_RESOURCE; without it runc fails to start the container.
  # Capped at containerd's own score instead. netns_mounts_under_state_dir: pods' network
  # namespaces below $NODE_RUN, not in /run/netns. The opt plugin would install into /opt.
  cat >"$DIR/realnode/containerd.toml" <<TOML
version = 2
root = "$NODE_ROOT/containerd"
state = "$NODE_RUN/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$NODE_RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_RUN/cni"
    max_conf_num = 1
TOML
  mkdir -p "$NODE_RUN/cni"
  cat >"$NODE_RUN/cni/10-$CNI_NETWORK.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$NODE_RUN/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
}

write_kubelet_config() {
  # failCgroupV1: kubelet refuses cgroup v1 hosts unless told otherwise. oomScoreAdj 0:
  # kubelet's default -999 needs CAP_SYS_RESOURCE. shutdownGracePeriod 0: graceful node
  # shutdown needs systemd-logind.
  cat >"$DIR/realnode/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$SOCK
port: $1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $2
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization:
  mode: Webhook
tlsCertFile: $DIR/realnode/pki/kubelet-serving.crt
tlsPrivateKeyFile: $DIR/realnode/pki/kubelet-serving.key
podLogsDir: $NODE_ROOT/pod-logs
failSwapOn: false
oomScoreAdj: 0
shutdownGracePeriod: 0s
YAML
}

make_cgroups() {
  local h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h/$CGROUP_ROOT"
    if [ -f "$h/cpuset.cpus" ] && [ -f "$h/$CGROUP_ROOT/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" >"$h/$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

# Records what `down` must give back: sysctls, and which host paths and iptables chains
# existed before the node.
snapshot_host() {
  local s t x
  for s in $SYSCTLS; do echo "$s=$(sysctl -n "$s")"; done >"$NODE_RUN/sysctl.before"
  for x in iptables ip6tables; do
    for t in filter nat mangle raw; do $x -t "$t" -S 2>/dev/null | awk -v x="$x" -v t="$t" '$1 == "-N" { print x, t, $2 }'; done
  done >"$NODE_RUN/iptables.before"
  for d in /run/containerd /var/lib/cni /var/log/containers; do [ -e "$d" ] || echo "$d"; done \
    >"$NODE_RUN/created-dirs"
}

kubectl_admin() { kubectl --kubeconfig "$DIR/kubeconfig" "$@"; }

node_ready() {
  [ "$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# --- up -------------------------------------------------------------------------------------

take_lock() {
  exec 9>"$LOCK"
  flock -w 300 9 || die "another realnode.sh has held $LOCK for 5 minutes"
}

cmd_up() {
  local imports=()
  while [ $# -gt 0 ]; do
    case $1 in
      --import) imports+=("${2:?--import needs an OCI archive}"); shift ;;
      *) die "unknown option $1" ;;
    esac
    shift
  done
  need containerd containerd-shim-runc-v2 runc ctr kubelet kubectl iptables ip6tables ip buildah gcc busybox openssl python3 go flock
  [ -f "$DIR/kubeconfig" ] && [ -f "$DIR/controlplane.env" ] || die "no control plane in $DIR; run 'scripts/controlplane.sh up $DIR' first"
  [ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet, cgroups, iptables)"
  APISERVER_URL=$(sed -n 's/^APISERVER_URL=//p' "$DIR/controlplane.env")
  find_images

  take_lock
  if [ -f "$NODE_RUN/owner" ]; then
    local owner; owner=$(cat "$NODE_RUN/owner")
    if alive kubelet || alive containerd; then
      die "this machine's real node belongs to the control plane in $owner; 'scripts/realnode.sh down $owner' first"
    fi
    log "cleaning up after the real node of $owner, whose processes are gone"
  fi
  if [ -e "$NODE_RUN" ] || [ -e "$NODE_ROOT" ]; then teardown || die "could not clean up after the previous real node"; fi

  local start=$SECONDS
  mkdir -p "$NODE_RUN/pids" "$NODE_ROOT" "$DIR/logs" "$DIR/realnode"
  echo "$DIR" >"$NODE_RUN/owner"
  snapshot_host
  trap '[ $UP_OK = 1 ] || { log "up failed; tearing down (logs in $DIR/logs)"; teardown || true; }' EXIT
  trap 'exit 130' INT TERM HUP

  local node_ip kubelet_port healthz_port
  node_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [ -n "$node_ip" ] || die "no default route: kubelet needs a non-loopback address for the node"
  kubelet_port=$(free_port); healthz_port=$(free_port)
  write_certs "$node_ip"
  write_containerd_config
  write_kubelet_config "$kubelet_port" "$healthz_port"
  # kubelet's rights: the API server authorizes with RBAC alone (no Node authorizer), so the
  # node's user gets the system:node role the Node authorizer would otherwise grant.
  kubectl_admin create clusterrolebinding "$CNI_NETWORK:$NODE_NAME" --clusterrole system:node \
    --user "system:node:$NODE_NAME" --dry-run=client -o yaml | kubectl_admin apply -f - >/dev/null
  make_cgroups

  start containerd containerd --config "$DIR/realnode/containerd.toml"
  until_true 30 containerd ctr --address "$SOCK" version
  import_archive "$PAUSE_ARCHIVE"
  import_archive "$BUSYBOX_ARCHIVE"
  for a in "${imports[@]}"; do import_archive "$a"; done

  start kubelet kubelet --config "$DIR/realnode/kubelet-config.yaml" \
    --kubeconfig "$DIR/realnode/kubelet.kubeconfig" --root-dir "$NODE_ROOT/kubelet" \
    --node-ip "$node_ip" --node-labels spotguard.test/realnode=true --v 2
  until_true 120 kubelet node_ready
  cat >"$DIR/realnode.env" <<ENV
REALNODE_NAME=$NODE_NAME
REALNODE_IP=$node_ip
REALNODE_PAUSE_IMAGE=$PAUSE_IMAGE
REALNODE_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
REALNODE_CONTAINERD_SOCKET=$SOCK
REALNODE_STATE_DIRS=$NODE_ROOT $NODE_RUN
REALNODE_CGROUP=$CGROUP_ROOT
REALNODE_BRIDGE=$BRIDGE
ENV
  UP_OK=1
  log "node $NODE_NAME Ready in $((SECONDS - start)) s (kubelet $KUBERNETES_VERSION, $(containerd --version | cut -d' ' -f3), logs in $DIR/logs)"
}

cmd_import() {
  take_lock
  [ "$(cat "$NODE_RUN/owner" 2>/dev/null)" = "$DIR" ] && alive containerd || die "no real node of $DIR is running"
  import_archive "$1"
}

# --- down -----------------------------------------------------------------------------------

# iptables_chains: "iptables|ip6tables TABLE CHAIN" of CNI's and kubelet's chains that were
# not there before.
iptables_chains() {
  local x t
  for x in iptables ip6tables; do
    for t in filter nat mangle raw; do
      $x -t "$t" -S 2>/dev/null | awk -v x="$x" -v t="$t" '$1 == "-N" && $2 ~ /^(CNI-|KUBE-)/ { print x, t, $2 }'
    done
  done | grep -vxF -f "$NODE_RUN/iptables.before" 2>/dev/null || true
}

our_mounts() {
  awk -v a="$NODE_ROOT/" -v b="$NODE_RUN/" '{ m = $2 "/" } index(m, a) == 1 || index(m, b) == 1 { print $2 }' /proc/mounts
}

cgroup_procs() {
  local h
  for h in $(cgroup_hierarchies); do
    [ -d "$h/$CGROUP_ROOT" ] && find "$h/$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

shims() { pgrep -f -- "-address $SOCK( |$)" || true; }

# What is still there; one line each.
leftovers() {
  local n h
  for n in kubelet containerd; do alive "$n" && echo "process $n ($(cat "$NODE_RUN/pids/$n.pid"))"; done
  for p in $(shims) $(cgroup_procs); do echo "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80))"; done
  our_mounts | sed 's/^/mount /'
  for h in $(cgroup_hierarchies); do [ -d "$h/$CGROUP_ROOT" ] && echo "cgroup $h/$CGROUP_ROOT"; done
  ip link show "$BRIDGE" >/dev/null 2>&1 && echo "bridge $BRIDGE"
  iptables_chains | sed 's/^/iptables chain /'
  for d in "$NODE_ROOT" "$NODE_RUN"; do [ -e "$d" ] && echo "directory $d"; done
  true
}

# teardown: everything on the host, whether or not the API server and the processes live.
# Each step runs whatever the one before it left; fails listing what is still there.
teardown() (
  set +e
  local owner_dir kc=""
  owner_dir=$(cat "$NODE_RUN/owner" 2>/dev/null || true)
  [ -n "$owner_dir" ] && [ -f "$owner_dir/kubeconfig" ] && kc="$owner_dir/kubeconfig"
  if [ -n "$kc" ] && alive kubelet && kubectl --kubeconfig "$kc" get --raw /readyz >/dev/null 2>&1; then
    # Pods end as in a cluster (preStop hooks, grace) while kubelet lives, 30 s at most; the
    # rest is killed below.
    local pods=(kubectl --kubeconfig "$kc" get pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" -o name)
    kubectl --kubeconfig "$kc" delete pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" \
      --wait=false >/dev/null 2>&1
    local deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ] && alive kubelet && [ -n "$("${pods[@]}" 2>/dev/null)" ]; do sleep 0.5; done
  fi
  stop kubelet
  stop containerd
  local p
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$( { shims; cgroup_procs; } | sort -u)
    [ -z "$p" ] && break
    # shellcheck disable=SC2086
    kill -KILL $p 2>/dev/null || true
    sleep 0.2
  done
  for _ in 1 2 3; do
    our_mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  local x t c
  while read -r x t c; do
    # Rules jumping to the chain first (as -S prints them, quoted comments and all), then the chain.
    $x -t "$t" -S 2>/dev/null | awk -v c="$c" '$1 == "-A" && / -j / && $NF == c || index($0, " -j " c " ")' \
      | sed 's/^-A/-D/' | while read -r rule; do
      eval "$x -t $t $rule" 2>/dev/null || true
    done
  done < <(iptables_chains)
  while read -r x t c; do $x -t "$t" -F "$c" 2>/dev/null || true; done < <(iptables_chains)
  while read -r x t c; do $x -t "$t" -X "$c" 2>/dev/null || true; done < <(iptables_chains)
  local h
  for h in $(cgroup_hierarchies); do
    [ -d "$h/$CGROUP_ROOT" ] && find "$h/$CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if [ -f "$NODE_RUN/sysctl.before" ]; then
    while IFS== read -r k v; do sysctl -qw "$k=$v" >/dev/null 2>&1 || true; done <"$NODE_RUN/sysctl.before"
  fi
  # Files kubelet and CNI keep at fixed paths.
  find /var/log/containers -maxdepth 1 -type l -lname "$NODE_ROOT/*" -delete 2>/dev/null || true
  # libcni's cached results of the node's sandboxes (its network and containerd's loopback):
  # those naming a network namespace below $NODE_RUN.
  grep -l -F "$NODE_RUN/" /var/lib/cni/results/* 2>/dev/null | xargs -r rm -f
  if [ -f "$NODE_RUN/created-dirs" ]; then
    while read -r d; do
      case $d in
        /run/containerd) pgrep -x containerd >/dev/null || rm -rf "$d" ;;   # shim sockets, runc state
        *) find "$d" -depth -type d -empty -delete 2>/dev/null || true ;;
      esac
    done <"$NODE_RUN/created-dirs"
  fi
  if [ -n "$kc" ] && kubectl --kubeconfig "$kc" get --raw /readyz >/dev/null 2>&1; then
    kubectl --kubeconfig "$kc" delete pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" \
      --force --grace-period 0 >/dev/null 2>&1 || true
    kubectl --kubeconfig "$kc" delete node "$NODE_NAME" --ignore-not-found >/dev/null 2>&1 || true
    kubectl --kubeconfig "$kc" delete clusterrolebinding "$CNI_NETWORK:$NODE_NAME" --ignore-not-found >/dev/null 2>&1 || true
  fi
  local left; left=$(leftovers | grep -v "^directory $NODE_RUN$\|^directory $NODE_ROOT$" || true)
  if [ -n "$left" ]; then
    log "left behind after down:"; echo "$left" | sed 's/^/  /' >&2
    return 1
  fi
  rm -rf --one-file-system "$NODE_ROOT" "$NODE_RUN"
  [ -z "$owner_dir" ] || rm -f "$owner_dir/realnode.env"
  return 0
)

cmd_down() {
  [ -e "$NODE_RUN" ] || [ -e "$NODE_ROOT" ] || return 0
  take_lock
  local owner; owner=$(cat "$NODE_RUN/owner" 2>/dev/null || true)
  if [ -n "$owner" ] && [ "$owner" != "$DIR" ] && { alive kubelet || alive containerd; }; then
    log "the real node belongs to $owner, not $DIR: left running"
    return 0
  fi
  teardown
  log "down: nothing left on the host"
}

[ $# -ge 2 ] || { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
verb=$1; DIR=$(mkdir -p "$2" && cd "$2" && pwd); shift 2
case $verb in
  up) cmd_up "$@" ;;
  import) [ $# -eq 1 ] || die "usage: import DIR ARCHIVE"; cmd_import "$1" ;;
  down) cmd_down ;;
  *) die "unknown command '$verb' (up | import | down)" ;;
esac
