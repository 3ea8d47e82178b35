#!/usr/bin/env bash
# Runs the curl tour of README.md, exactly as written, against a fresh server: the tour must
# keep working as the product changes. Usage: readme_tour.sh KEYLEDGER_BINARY README
set -euo pipefail
binary=$1 readme=$2
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
mkdir .keyledger
"$binary" keygen .keyledger/master.key >/dev/null
cat > .keyledger/tokens.env <<TOKENS
KEYLEDGER_OPERATOR_TOKEN=op_readme_tour_0123456789
KEYLEDGER_SERVICE_TOKEN=svc_readme_tour_0123456789
TOKENS
set -a; source .keyledger/tokens.env; set +a
KEYLEDGER_MASTER_KEY_FILE=$work/.keyledger/master.key KEYLEDGER_STORE=file:$work/data KEYLEDGER_LISTEN=127.0.0.1:0 \
  "$binary" serve 2> server.log &
server=$!
for _ in $(seq 100); do grep -q '"msg":"listening"' server.log 2>/dev/null && break; sleep 0.1; done
address=$(grep '"msg":"listening"' server.log | sed -E 's/.*"address":"([^"]+)".*/\1/')
[[ -n $address ]] || { cat server.log; exit 1; }

# The first ```sh block after "## A tour with curl".
awk '/^## A tour with curl/{tour=1} tour && /^```sh$/{inside=1; next} inside && /^```$/{exit} inside' "$readme" > tour.sh
[[ -s tour.sh ]] || { echo "no tour found in $readme"; exit 1; }
API=http://$address bash -euo pipefail tour.sh > tour.out 2>&1 || { cat tour.out; exit 1; }
cat tour.out
# Each channel's key verified, the Email key refused from outside its allowlist.
[[ $(grep -c '"valid":true' tour.out) == 4 ]] || { echo "expected 4 valid verifications"; exit 1; }
grep -q '"reason":"ip_not_allowed"' tour.out
# Time travel: as of the dashboard's creation, no Email key (the tour's last line).
[[ $(tail -n 1 tour.out) == 0 ]] || { echo "expected no Email key as of the dashboard's creation"; exit 1; }
grep -q '"rcs_key_fixed"' tour.out
grep -q '"ok":true' tour.out
echo "README tour: passed"
