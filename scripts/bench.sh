#!/usr/bin/env bash
# switchboard against a minimal rmcp echo server (bench/rmcp-echo), both on stdio_pipes(), in
# one alternating mcp-bench run (bench/mcp-bench): startup, sequential latency, pipelined
# throughput, RSS and server CPU per call, for a built-in tool (`fetch`), a plugin tool
# (`probe__echo`) and `search` over a generated corpus of 10k files; plus the `files` index
# build time for that corpus. Release builds. Results: a markdown table on stderr, JSON
# summary lines on stdout.
#
#   scripts/bench.sh                 # 5 rounds
#   ROUNDS=7 FILES=10000 scripts/bench.sh
#   PIN=0 scripts/bench.sh           # everything (driver and servers) on CPU 0 (taskset)
#   BEFORE=dir scripts/bench.sh      # also dir/switchboard (an earlier build, with its bundled
#                                    # libraries beside it) for fetch and probe__echo, same run
#   BUILD=0 scripts/bench.sh         # use the release binaries already built
#   scripts/bench.sh files-scale     # the files connector at 100k real files: bench-files-scale.sh
#   scripts/bench.sh sources         # the unified search over files, Outlook, Box and Snowflake
#                                    # (their stand-ins): bench-sources.sh
if [[ ${1:-} == files-scale ]]; then
  shift
  exec "$(dirname "$0")/bench-files-scale.sh" "$@"
fi
if [[ ${1:-} == sources ]]; then
  shift
  exec "$(dirname "$0")/bench-sources.sh" "$@"
fi
source "$(dirname "$0")/bench-prelude.sh"
rounds=${ROUNDS:-5}
files=${FILES:-10000}

if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release --locked -p switchboard -p switchboard-files -p switchboard-probe -p rmcp-echo
  build_driver
fi

home=$work/home
corpus=$work/corpus
mkdir -p "$home/plugins" "$corpus"
cp "$release/libswitchboard_probe.so" "$home/plugins/"
python3 - "$corpus" "$files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
random.seed(7)
words = ("garden bread weather river stone letter window morning market music paper "
         "coffee winter harbour lantern meadow orchard signal thunder velvet").split()
for i in range(count):
    folder = os.path.join(root, f"folder{i % 100:03d}", f"sub{i % 7}")
    os.makedirs(folder, exist_ok=True)
    body = " ".join(random.choice(words) for _ in range(random.randint(40, 240)))
    with open(os.path.join(folder, f"note{i:05d}.md"), "w") as f:
        f.write(f"Note {i}\n{body} unique{i}\n")
with open(os.path.join(root, "zebra.md"), "w") as f:
    f.write("The zebra migration plan is approved.\n")
PY
cat > "$home/config.yaml" <<YAML
log: {level: "off", file: false}
plugins: {bundled: true}
approvals: {default: allow}
connectors:
  probe: {enabled: true}
  files:
    config:
      roots: ["$corpus"]
      index_budget_ms: 600000
      rescan_seconds: 3600
YAML
sb="$release/switchboard"

# The index build, timed from the outside: the first search builds it whole.
start=$(date +%s%N)
SWITCHBOARD_HOME="$home" "$sb" search zebra > "$work/first-search.json"
end=$(date +%s%N)
index_ms=$(( (end - start) / 1000000 ))
grep -q zebra "$work/first-search.json"
echo "files index build for $files files (first search, release): ${index_ms} ms" >&2
# Later runs find the index current (rescan_seconds is an hour).
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["id"])' "$work/first-search.json")

cat > "$work/suite.json" <<JSON
[
  {"name": "rmcp-echo", "cmd": ["$release/rmcp-echo"], "tool": "echo", "args": {"text": "hello"}},
  {"name": "sb-fetch", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "fetch", "args": {"id": "$id"}},
  {"name": "sb-probe-echo", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "probe__echo", "args": {"text": "hello"}},
  {"name": "sb-search-10k", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "search", "args": {"query": "zebra", "limit": 5}, "pipelined": 5000}
JSON
if [[ -n ${BEFORE:-} ]]; then
  cat >> "$work/suite.json" <<JSON
  ,{"name": "before-fetch", "cmd": ["$BEFORE/switchboard", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "fetch", "args": {"id": "$id"}},
  {"name": "before-probe-echo", "cmd": ["$BEFORE/switchboard", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "probe__echo", "args": {"text": "hello"}}
JSON
fi
echo "]" >> "$work/suite.json"
pin=()
if [[ -n ${PIN:-} ]]; then
  pin=(taskset -c "$PIN")
fi
echo "index_build_ms=$index_ms files=$files pin=${PIN:-none} load=$(cut -d' ' -f1-3 /proc/loadavg)"
"${pin[@]}" "$release/mcp-bench" --rounds "$rounds" --suite "$work/suite.json"
