#!/usr/bin/env bash
# The web console in a real headless Chromium (Debian's, driven by Selenium through Debian's
# chromedriver) against a fresh server: console_test.py does the README tour as a person
# would. Screenshots of every screen go to SCREENSHOT_DIR (docs/console/ holds a copy).
#
# usage: run_console_tests.sh KEYLEDGER_BINARY SCREENSHOT_DIR
# Selenium and axe-core come from KEYLEDGER_CONSOLE_TOOLS (tools/test installs them under
# ~/.cache/keyledger); without them, or without Chromium, the test fails — it never skips.
set -euo pipefail
keyledger=$1 screenshots=$2
tools=${KEYLEDGER_CONSOLE_TOOLS:-}
if [[ -z $tools || ! -x $tools/venv/bin/python || ! -f $tools/node_modules/axe-core/axe.min.js ]]; then
  echo "KEYLEDGER_CONSOLE_TOOLS must name the console test tools' directory (tools/test sets it up)" >&2
  exit 1
fi
for program in /usr/bin/chromium /usr/bin/chromedriver; do
  [[ -x $program ]] || { echo "$program is missing (tools/test installs chromium and chromium-driver)" >&2; exit 1; }
done

source "$(dirname "$0")/../support/serve.sh"
serve_fresh "$keyledger" console

mkdir -p "$screenshots"
status=0
SE_OFFLINE=true HOME=$work "$tools/venv/bin/python" "$(dirname "$0")/console_test.py" \
  --url "$api" --operator-token "$operator" --service-token "$service" \
  --axe "$tools/node_modules/axe-core/axe.min.js" --screenshots "$screenshots" --profile "$work/profile" || status=$?
# Nothing the browser did may have put a secret into the server's log.
if grep -E 'kl[eswr]_[A-Za-z0-9]{30,}|klsess_|correct horse' "$work/server.log"; then
  echo "the server's log holds a key, a session token or a password" >&2
  status=1
fi
exit $status
