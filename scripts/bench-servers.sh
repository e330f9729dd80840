#!/usr/bin/env bash
# The overhead of a downstream MCP server behind switchboard: calls to the workspace's echo
# server (tests/servers/echo) directly, and to the same server through `switchboard serve` as
# `echo__echo`, alternated with mcp-bench's pipe floor in one run. Prints mcp-bench's table
# of medians on stderr and its JSON summary lines on stdout; the added latency is
# sb-echo's seq_p50_us minus echo-direct's. For reference, relay-echo puts a process that only
# copies lines (bench/relay) in switchboard's place: what one more process on the path costs
# by itself; sb-echo-asleep is sb-echo with `serve.stay_awake: 0` (switchboard sleeps between
# lines instead of polling for a moment); sb-probe calls the probe plugin's echo through
# switchboard (no downstream hop).
#
# PIN=CPU runs everything on that one CPU (taskset). On a VM whose idle vCPUs must be woken
# by the hypervisor, a chain of three processes spread over two vCPUs pays for that wake-up
# on most hops; on one CPU the figures show the work itself (switchboard does not stay awake
# on one CPU, so sb-echo and sb-echo-asleep are then the same).
#
#   scripts/bench-servers.sh            # 3 rounds
#   ROUNDS=7 scripts/bench-servers.sh
#   PIN=0 ROUNDS=7 scripts/bench-servers.sh
#   BEFORE=dir scripts/bench-servers.sh   # also dir/switchboard (an earlier build) as sb-echo-before
#   BUILD=0 scripts/bench-servers.sh      # use the release binaries already built
source "$(dirname "$0")/bench-prelude.sh"
rounds=${ROUNDS:-3}

if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release --locked -p switchboard -p switchboard-echo-server -p switchboard-probe -p mcp-relay
  build_driver
fi

home=$work/home
mkdir -p "$home/plugins"
for lib in "$release"/libswitchboard_probe.{so,dylib}; do
  if [ -e "$lib" ]; then cp "$lib" "$home/plugins/"; fi
done
echo_server="$release/echo-server"
# Approvals off for the measured tool (its annotations are not trusted by default), logs off.
cat > "$home/config.yaml" <<YAML
log: {level: "off", file: false}
plugins: {bundled: false}
approvals: {default: allow}
connectors: {probe: {enabled: true}}
YAML
cat > "$home/servers_config.json" <<JSON
{"mcpServers": {"echo": {"command": "$echo_server"}}}
JSON
asleep=$work/asleep
mkdir -p "$asleep"
cp "$home/servers_config.json" "$asleep/"
cat > "$asleep/config.yaml" <<YAML
log: {level: "off", file: false}
plugins: {bundled: false}
approvals: {default: allow}
serve: {stay_awake: 0}
YAML

sb="$release/switchboard"
cat > "$work/suite.json" <<JSON
[
  {"name": "floor", "cmd": ["$release/mcp-floor"]},
  {"name": "echo-direct", "cmd": ["$echo_server"], "tool": "echo", "args": {"text": "hi"}},
  {"name": "relay-echo", "cmd": ["$release/mcp-relay", "$echo_server"], "tool": "echo", "args": {"text": "hi"}},
  {"name": "sb-echo", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "echo__echo", "args": {"text": "hi"}},
  {"name": "sb-echo-asleep", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$asleep"},
   "tool": "echo__echo", "args": {"text": "hi"}},
  {"name": "sb-probe", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "probe__echo", "args": {"text": "hi"}}
JSON
if [[ -n ${BEFORE:-} ]]; then
  cat >> "$work/suite.json" <<JSON
  ,{"name": "sb-echo-before", "cmd": ["$BEFORE/switchboard", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "echo__echo", "args": {"text": "hi"}}
JSON
fi
echo "]" >> "$work/suite.json"
echo "pin=${PIN:-none} load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2
pin=()
if [ -n "${PIN:-}" ]; then
  pin=(taskset -c "$PIN")
fi
"${pin[@]}" "$release/mcp-bench" --rounds "$rounds" --baseline echo-direct --suite "$work/suite.json" | tee "$work/runs.jsonl"

# What each entry adds to echo-direct's p50: the difference of the medians over the rounds, and
# the median of the per-round differences (rounds alternate, so each pairs runs made moments
# apart).
python3 - "$work/runs.jsonl" >&2 <<'PY'
import json, statistics, sys
p50 = {}
for line in open(sys.argv[1]):
    run = json.loads(line)
    if run.get("ok") and run.get("seq_p50_us") is not None:
        p50.setdefault(run["name"], []).append(run["seq_p50_us"])
base = p50.get("echo-direct", [])
print("\nadded to echo-direct's p50 (us): median of the runs' p50 minus echo-direct's; median of per-round differences")
for name, values in p50.items():
    if name in ("floor", "echo-direct") or len(values) != len(base):
        continue
    medians = statistics.median(values) - statistics.median(base)
    rounds = statistics.median(a - b for a, b in zip(values, base))
    print(f"  {name:15} {medians:7.1f}   {rounds:7.1f}")
PY
