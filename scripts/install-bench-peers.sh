#!/bin/sh
# Installs what `npm run bench` compares mend with: Debian's monit and supervisor, and tini (a
# subreaper, so orphaned services are reaped at once under every peer alike). Idempotent.
exec sh "$(dirname "$0")/apt-ensure.sh" install-bench-peers monit:monit supervisord:supervisor tini:tini
