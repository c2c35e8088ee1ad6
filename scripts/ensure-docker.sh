#!/usr/bin/env bash
# Docker's engine for `make docker-test`, installed when missing (Debian's docker.io), as `make test`
# installs chromium. Only the engine is checked: a docker client alone cannot build or run anything.
# Starting it is docker-smoke.sh's job (dockerd --bridge=none --iptables=false: host networking only).
set -euo pipefail
command -v dockerd >/dev/null && exit 0
if [[ "$(id -u)" != 0 ]]; then
  echo "Docker's engine (dockerd) is missing; install it as root: apt-get install docker.io" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "Docker's engine (dockerd) is missing and this is not Debian: install Docker" >&2; exit 1; }
echo "installing Debian docker.io (Docker's engine) for the image test"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
command -v dockerd >/dev/null || { echo "docker.io installed but dockerd is not on PATH" >&2; exit 1; }
