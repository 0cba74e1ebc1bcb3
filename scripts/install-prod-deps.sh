#!/bin/sh
# Installs what `npm run test:prod` needs beyond npm packages and the Temporal server (which
# scripts/ensure-temporal-server.ts builds with Go): Debian's PostgreSQL server, whose initdb and
# postgres scripts/prod-temporal.ts runs for a private cluster. Debian keeps them off PATH, in
# /usr/lib/postgresql/<major>/bin: that folder is searched too. Idempotent.
set -eu
for dir in /usr/lib/postgresql/*/bin; do
  [ -x "$dir/initdb" ] && PATH="$dir:$PATH"
done
export PATH
exec sh "$(dirname "$0")/apt-ensure.sh" install-prod-deps initdb:postgresql
