#!/bin/sh
# Installs Debian packages for commands that are missing, idempotently: each argument is
# COMMAND:PACKAGE (e.g. `chromium:chromium`, `supervisord:supervisor`). Nothing happens when every
# command is already on PATH; otherwise `apt-get update` then `apt-get install`, as root or with sudo.
# Usage: apt-ensure.sh WHO COMMAND:PACKAGE...   (WHO names the caller in messages)
set -eu
who="$1"; shift
missing=""
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "$who: need root (or sudo) to install:$missing" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$who: no apt-get here; install$missing with your package manager" >&2
  exit 1
fi
echo "$who: installing$missing (apt-get; first run only)" >&2
log="$(mktemp)"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "$who: apt-get could not install$missing (its last lines above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
echo "$who: installed$missing" >&2
