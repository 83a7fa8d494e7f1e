#!/usr/bin/env bash
# Installs the comparison peers used by bench/run.ts from Debian packages:
#   rclone (rclone mount), sshfs (FUSE over sftp) and openssh-server (the sshd
#   binary; the bench starts its OWN sshd on 127.0.0.1 with a throw-away host
#   key and authorized key, so the system sshd config is never touched and no
#   system sshd is enabled).
# Idempotent; needs root (or sudo). Network is used only for the apt mirror.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

want=()
command -v rclone >/dev/null 2>&1 || want+=(rclone)
command -v sshfs >/dev/null 2>&1 || want+=(sshfs)
[ -x /usr/sbin/sshd ] || want+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || want+=(openssh-client)
command -v fusermount >/dev/null 2>&1 || command -v fusermount3 >/dev/null 2>&1 || want+=(fuse3)

if [ ${#want[@]} -gt 0 ]; then
  echo "bench-setup: installing ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # --no-install-recommends keeps ssh's optional extras out; policy-rc.d stops
  # the package from starting a system sshd on port 22.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}"
fi

# sshd refuses to start without its privilege-separation directory.
$SUDO mkdir -p /run/sshd
$SUDO chmod 0755 /run/sshd

# rclone/sshfs mounts by root need user_allow_other only if allow_other is
# used; the bench does not use it. Just check /dev/fuse is usable.
if [ ! -c /dev/fuse ]; then
  echo "bench-setup: /dev/fuse is missing: no FUSE target can be measured" >&2
  exit 1
fi

echo "bench-setup: ok"
for tool in rclone sshfs /usr/sbin/sshd; do
  printf '  %-16s %s\n' "$tool" "$(command -v "$tool" || echo missing)"
done
{ rclone version 2>/dev/null || true; } | head -1 | sed 's/^/  /' || true
{ sshfs --version 2>&1 || true; } | grep -i "^sshfs version" | sed "s/^/  /" || true
