#!/usr/bin/env bash
# Lets buildah build and podman run arm64 images on an amd64 machine, by
# emulation: Debian's qemu-user-static registered with the kernel's binfmt_misc
# (mounted first where it is not). Needs root. `npm run release` builds arm64
# only where this has worked; README.md, "Releases", says what it costs.
set -euo pipefail
if [ "$(uname -m)" = aarch64 ]; then
  echo "enable-arm64: this machine is arm64 already"
  exit 0
fi
# arch-test: mmdebstrap's check that the foreign architecture runs, for the arm64 test base.
if ! command -v qemu-aarch64-static >/dev/null || ! command -v update-binfmts >/dev/null ||
  ! command -v arch-test >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    qemu-user-static binfmt-support arch-test >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --import qemu-aarch64
  update-binfmts --enable qemu-aarch64
fi
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
  echo "enable-arm64: warning: qemu-aarch64 is registered without the F flag; containers cannot reach its interpreter" >&2
echo "enable-arm64: arm64 binaries run here through $(sed -n 's/^interpreter //p' /proc/sys/fs/binfmt_misc/qemu-aarch64)"
