# For the test scripts that run a server of their own; sourced. `serve_fresh KEYLEDGER NAME`
# makes a work directory (removed at exit, the server stopped first) and starts
# `keyledger serve` there on a new file store, on a free loopback port, with random operator
# and service tokens. It sets `work`, `server` (the pid), `api` (http://ADDRESS), `operator`
# and `service`; the server's log is $work/server.log.
serve_fresh() {
  local keyledger=$1 name=$2 address=
  work=$(mktemp -d -t "keyledger-$name-XXXXXX")
  server=
  trap serve_cleanup EXIT
  operator=operator-token-$RANDOM$RANDOM$RANDOM$RANDOM
  service=service-token-$RANDOM$RANDOM$RANDOM$RANDOM
  "$keyledger" keygen "$work/master.key" >/dev/null
  "$keyledger" serve --listen 127.0.0.1:0 --store "file:$work/data" --master-key-file "$work/master.key" \
    --operator-token "$operator" --service-token "$service" 2>"$work/server.log" &
  server=$!
  for _ in $(seq 200); do
    address=$(grep -m1 '"msg":"listening"' "$work/server.log" 2>/dev/null | sed -E 's/.*"address":"([^"]+)".*/\1/' || true)
    [[ -n $address ]] && break
    sleep 0.05
  done
  [[ -n $address ]] || { echo "keyledger serve did not start:" >&2; cat "$work/server.log" >&2; return 1; }
  api=http://$address
}

serve_cleanup() {
  [[ -n ${server:-} ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
