#!/usr/bin/env bash
# Starts Podman's Docker-compatible API on a unix socket for the sidecar's tests, with a
# busybox image imported from a local root filesystem (no registry needed). Prints the
# socket path and the service's pid. Needs podman, runc and busybox-static (Debian).
#
# Two settings make containers start in this sandbox: runc instead of crun (crun refuses
# the hybrid cgroup layout) and ulimits the sandbox may set (the defaults are higher than
# the process's hard limits).
set -euo pipefail
work=${1:-/tmp/hookline-podman}
mkdir -p "$work"
cat > "$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$work/containers.conf
if ! podman image exists localhost/hl-busybox:latest; then
  rm -rf "$work/rootfs"
  mkdir -p "$work"/rootfs/{bin,tmp,etc,proc,sys,dev}
  cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
  for a in sh echo sleep cat ls env date true seq printf; do ln -sf busybox "$work/rootfs/bin/$a"; done
  tar -C "$work/rootfs" -cf "$work/hl-busybox.tar" .
  podman import --change 'CMD ["sh"]' "$work/hl-busybox.tar" localhost/hl-busybox:latest >/dev/null
fi
sock=$work/podman.sock
rm -f "$sock"
podman system service --time=0 "unix://$sock" >"$work/service.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    echo "$sock $pid $work/containers.conf"
    exit 0
  fi
  sleep 0.1
done
echo "podman service did not answer on $sock" >&2
kill "$pid" 2>/dev/null || true
exit 1
