#!/bin/sh
# Installs what `npm run bench` compares mend with: Debian's monit and supervisor, and tini (a
# subreaper, so orphaned services are reaped at once under every peer alike). Idempotent.
set -eu
missing=""
command -v monit >/dev/null 2>&1 || missing="$missing monit"
command -v supervisord >/dev/null 2>&1 || missing="$missing supervisor"
command -v tini >/dev/null 2>&1 || missing="$missing tini"
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-bench-peers: need root (or sudo) to install:$missing" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-bench-peers: no apt-get here; install$missing with your package manager" >&2
  exit 1
fi
echo "install-bench-peers: installing$missing (apt-get)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
