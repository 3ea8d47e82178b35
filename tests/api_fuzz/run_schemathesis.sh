#!/usr/bin/env bash
# API fuzzing: schemathesis generates requests from the /openapi.json of a running server and
# checks every answer: never a 5xx, a documented status code and content type, a body that
# matches the documented schema. It runs once as a dashboard admin (the dashboard routes,
# with {d} pinned to a real dashboard so requests get past authorization), once as the
# platform operator, and once as a sending service, each for a bounded time.
#
# usage: run_schemathesis.sh KEYLEDGER_BINARY SECONDS_PER_PRINCIPAL
# The schemathesis executable comes from KEYLEDGER_SCHEMATHESIS (tools/test installs it into
# a virtualenv under ~/.cache/keyledger); without it the test fails, it never skips.
set -euo pipefail
keyledger=$1
seconds=$2
schemathesis=${KEYLEDGER_SCHEMATHESIS:-}
if [[ -z $schemathesis || ! -x $schemathesis ]]; then
  echo "KEYLEDGER_SCHEMATHESIS must name the schemathesis executable (tools/test sets it up)" >&2
  exit 1
fi

source "$(dirname "$0")/../support/serve.sh"
serve_fresh "$keyledger" schemathesis

post() { curl -sS -X POST "$api$1" -H 'Content-Type: application/json' -H "Authorization: Bearer $2" -d "$3"; }
dashboard=$(post /v1/dashboards "$operator" \
  '{"name":"Fuzzed","admin":{"email":"ada@example.com","password":"a fuzzing admin password"}}' | jq -r .id)
admin=$(post /v1/sessions "" \
  "{\"dashboard_id\":\"$dashboard\",\"email\":\"ada@example.com\",\"password\":\"a fuzzing admin password\"}" | jq -r .token)
[[ $dashboard == dsh_* && -n $admin && $admin != null ]] || { echo "could not set up a dashboard" >&2; exit 1; }

cat > "$work/schemathesis.toml" <<TOML
[parameters]
"path.d" = "$dashboard"
TOML

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# One worker: hypothesis parses lambda sources with Python's ast module, and two worker
# threads doing that at once hit CPython 3.11's "AST constructor recursion depth mismatch".
# A live event stream never ends for whoever may read it, and schemathesis reads every
# answer to its end: the dashboard's stream is left out for its admin, the operator's for
# the operator (the e2e tests read both with curl); for every other caller they are fuzzed
# like every route.
run_one() {  # NAME TOKEN OUTPUT
  local skip=()
  [[ $1 == admin ]] && skip=(--exclude-operation-id streamDashboardEvents)
  [[ $1 == operator ]] && skip=(--exclude-operation-id streamAllEvents)
  (cd "$work" && "$schemathesis" --config-file "$work/schemathesis.toml" run "$api/openapi.json" \
     --checks "$checks" --header "Authorization: Bearer $2" --max-time "$seconds" \
     --phases examples,coverage,fuzzing --workers 1 --no-color "${skip[@]}") >"$3" 2>&1
}
# A run that fails only because schemathesis itself raised (a "Runtime Error" in its own
# code, no failed check, no network error talking to keyledger) is the tool's crash, not a
# finding: it is said so and run once more; a second crash fails the test all the same.
tool_crashed() {
  grep -q '^Runtime Error' "$1" && ! grep -q '= FAILURES =' "$1" && ! grep -qi 'network error\|timed out' "$1"
}
show() { cut -c1-400 "$1" | head -150; }  # a crash report may hold whole source files on one line
status=0
for principal in "admin:$admin" "operator:$operator" "service:$service"; do
  name=${principal%%:*}
  token=${principal#*:}
  echo "==> schemathesis as the $name for ${seconds}s"
  out=$work/schemathesis-$name.out
  if run_one "$name" "$token" "$out"; then
    show "$out"
    continue
  fi
  if tool_crashed "$out"; then
    show "$out"
    echo "==> schemathesis itself crashed (not a finding in keyledger); running it once more as the $name"
    if run_one "$name" "$token" "$out"; then
      show "$out"
      continue
    fi
    tool_crashed "$out" && echo "==> schemathesis crashed again: failing, since nothing was checked"
  fi
  show "$out"
  status=1
done
if grep -q '"level":"error"' "$work/server.log"; then
  echo "the server logged errors:" >&2
  grep '"level":"error"' "$work/server.log" | head -20 >&2
  status=1
fi
exit $status
