#!/usr/bin/env bash
# Build the local Debian base image (default local/debian:bookworm) once, from Debian's own packages.
#
# For machines that reach the Debian mirror but no container registry: `debootstrap --variant=minbase`
# into a temporary root, then `docker import`. The mirror is read from this machine's apt sources at run
# time (never written in the repository). An existing image is reused (pass --force to rebuild).
# Needs root (debootstrap); installs debootstrap with apt-get when it is missing.
set -euo pipefail

IMAGE="${PERPVOL_BASE_IMAGE:-local/debian:bookworm}"
SUITE="${PERPVOL_BASE_SUITE:-bookworm}"
force=0
[[ "${1:-}" == "--force" ]] && force=1

# Bumped when this script changes what the base holds, so an older cached base is rebuilt.
BASE_VERSION=2
if [[ $force == 0 ]] \
   && [[ "$(docker image inspect -f '{{index .Config.Labels "org.perpvol.base"}}' "$IMAGE" 2>/dev/null)" == "$BASE_VERSION" ]]; then
  echo "base image $IMAGE: cached"
  exit 0
fi

# The first Debian mirror of the apt sources (deb822 `URIs:` or one-line `deb URL SUITE ...`) serving SUITE.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
      /^URIs:/        { uri = $2 }
      /^Suites:/      { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END             { if (uri != "" && ok) print uri }' "$f" | head -n1
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1) == suite) print $i; break } }'
}
MIRROR="$(debian_mirror | grep -m1 . || true)"
if [[ -z "$MIRROR" ]]; then
  echo "no Debian mirror for $SUITE in /etc/apt/sources.list*" >&2
  exit 1
fi

if ! command -v debootstrap >/dev/null; then
  echo "installing debootstrap"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq debootstrap >/dev/null
fi

ROOTFS="$(mktemp -d /tmp/perpvol-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
echo "debootstrap $SUITE (minbase) from the apt sources' Debian mirror"
timeout 1200 debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
  tail -n 30 "$ROOTFS.log" >&2
  rm -f "$ROOTFS.log"
  exit 1
}
rm -f "$ROOTFS.log"
# Keep the image small, like Debian's own slim images: no documentation, manual pages or translations
# (now or from later apt installs; copyright files stay), no apt lists or caches from the bootstrap.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/01-container-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
tar -C "$ROOTFS" -c . | docker import --change "LABEL org.perpvol.base=$BASE_VERSION" - "$IMAGE" >/dev/null
echo "base image $IMAGE: built ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
