#!/usr/bin/env bash
# Checks the event stream contract on the broker of KEYLEDGER_TEST_KAFKA_BOOTSTRAP, on every
# topic the test suites wrote (all event types must appear); then shows that the checker
# does fail, on records that leak a key or break the chain.
set -euo pipefail
python=$1 checker=$2 schemas=$3
bootstrap=${KEYLEDGER_TEST_KAFKA_BOOTSTRAP:?is not set: run tools/test, which starts a Kafka broker}
"$python" "$checker" "$bootstrap" "$schemas" keyledger-test- --require-all-types

# Negative controls: one real record taken from the topics above, then altered.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for topic in $(kcat -b "$bootstrap" -L -J | "$python" -c 'import json,sys; print("\n".join(sorted(t["topic"] for t in json.load(sys.stdin)["topics"] if t["topic"].startswith("keyledger-test-") and not t["topic"].endswith(("-keyring", "-owners", "-numbers")))))'); do
  kcat -b "$bootstrap" -C -t "$topic" -e -q -J -c 1 -X isolation.level=read_committed > "$work/good.jsonl"
  [[ -s $work/good.jsonl ]] && break
done
"$python" "$checker" --kcat-json "$work/good.jsonl" "$schemas" > /dev/null
"$python" - "$work" <<'PY'
import json, sys
work = sys.argv[1]
record = json.loads(open(f"{work}/good.jsonl").read())
envelope = json.loads(record["payload"])
leak = dict(record, payload=json.dumps(dict(envelope, data=dict(envelope["data"], name="kle_8j8iHvistgSMLBIXyu618uM2O8UjJm2z3C3l"))))
open(f"{work}/leak.jsonl", "w").write(json.dumps(leak) + "\n")
tampered = dict(record, payload=json.dumps(dict(envelope, sequence=envelope["sequence"] + 1), sort_keys=True, separators=(",", ":")))
open(f"{work}/tampered.jsonl", "w").write(json.dumps(tampered) + "\n")
PY
for bad in leak tampered; do
  if "$python" "$checker" --kcat-json "$work/$bad.jsonl" "$schemas" > "$work/$bad.out" 2>&1; then
    echo "negative control '$bad': the checker passed a bad record"; cat "$work/$bad.out"; exit 1
  fi
done
grep -q "plaintext keyledger key" "$work/leak.out"
grep -q "hash does not match" "$work/tampered.out"
echo "negative controls: the checker refused a leaking and a tampered record"
