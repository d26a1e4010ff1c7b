#!/bin/sh
# Installs the Debian tools the tests use (systemd-analyze for the systemd faces, b3sum to
# cross-check BLAKE3 hashes, chromium for the web console's browser tests, etcd 3.4 server and
# etcdctl for the actuator tests, iproute2 and nftables for the network-namespace hosts,
# libfaketime for their clock jumps), only
# when missing: apt-get update once, then apt-get install -y. Needs root (or sudo).
set -eu
missing=""
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
command -v b3sum >/dev/null 2>&1 || missing="$missing b3sum"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v etcd >/dev/null 2>&1 || missing="$missing etcd-server"
command -v etcdctl >/dev/null 2>&1 || missing="$missing etcd-client"
# ssh-keygen: the strategy e2e and SSHSIG tests make OpenSSH ed25519 keys and sign operator shifts with `ssh-keygen -Y sign`.
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
# The network-namespace hosts and the chaos campaign (docs/reliability.md): ip netns, veth,
# bridges, links set down, and packet drops with nftables inside the namespaces.
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
# Clock jumps for one node of the namespace mesh: libfaketime preloaded into its daemon.
ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 || missing="$missing libfaketime"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
echo "setup-system: installing$missing" >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
