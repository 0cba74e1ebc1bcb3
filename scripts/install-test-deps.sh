#!/bin/sh
# Installs what `npm test` needs beyond npm packages and the Temporal CLI (which run-tests.ts builds):
# Debian's chromium, in which test/api-openapi.test.ts renders /docs. Skipped when CHROMIUM_PATH
# names a browser that exists. Idempotent.
set -eu
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then exit 0; fi
exec sh "$(dirname "$0")/apt-ensure.sh" install-test-deps chromium:chromium
