#!/usr/bin/env bash
# Checks the event stream contract on the broker of KEYLEDGER_TEST_KAFKA_BOOTSTRAP: first on
# every topic the test suites wrote (all event types must appear), then shows that the
# checker does fail, on a topic holding one record that leaks a key.
set -euo pipefail
python=$1 checker=$2 schemas=$3
bootstrap=${KEYLEDGER_TEST_KAFKA_BOOTSTRAP:?is not set: run tools/test, which starts a Kafka broker}
"$python" "$checker" "$bootstrap" "$schemas" keyledger-test- --require-all-types

negative=keyledger-contract-negative-$$
leak='{"note":"kle_8j8iHvistgSMLBIXyu618uM2O8UjJm2z3C3l"}'
printf '%s\n' "$leak" | kcat -b "$bootstrap" -P -t "$negative" -k d1 2>/dev/null
if "$python" "$checker" "$bootstrap" "$schemas" "$negative" > /tmp/contract-negative.$$ 2>&1; then
  echo "the checker passed a record that leaks a key"; cat /tmp/contract-negative.$$; exit 1
fi
grep -q "plaintext keyledger key" /tmp/contract-negative.$$ || { cat /tmp/contract-negative.$$; exit 1; }
rm -f /tmp/contract-negative.$$
echo "negative control: the checker refused a leaking record"
