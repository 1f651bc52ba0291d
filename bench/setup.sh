#!/usr/bin/env bash
# Installs what bench/proxy.bench.ts drives (Debian packages): HAProxy and nginx (peers and the native backend),
# wrk (HTTP/1.1 load), nghttp2-client (h2load: h2c, gRPC and fixed-rate load). Benchmarks never run in CI.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y haproxy nginx wrk nghttp2-client
# Debian starts the packaged services; the bench runs its own pinned instances on loopback ports only.
$SUDO systemctl disable --now haproxy nginx 2>/dev/null || true
# Keep the bench ports (39100-39399) out of the ephemeral range, so another process's outgoing connection cannot
# hold one of them when a server binds (not persistent across reboots).
$SUDO sysctl -w net.ipv4.ip_local_reserved_ports=39100-39399 >/dev/null || true
