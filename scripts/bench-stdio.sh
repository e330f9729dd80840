#!/usr/bin/env bash
# Benchmark switchboard over stdio with mcp-bench (bench/mcp-bench): calls to a `files` tool,
# alternated with mcp-bench's pipe floor in one run. Prints mcp-bench's table of medians on
# stderr and its JSON summary lines on stdout.
#
#   scripts/bench-stdio.sh            # 3 rounds
#   ROUNDS=7 scripts/bench-stdio.sh
source "$(dirname "$0")/bench-prelude.sh"
rounds=${ROUNDS:-3}

cargo build --release --workspace --locked
build_driver

home=$work/home
corpus=$work/corpus
mkdir -p "$home" "$corpus"
for i in $(seq 1 500); do
  dir="$corpus/folder$((i % 10))"
  mkdir -p "$dir"
  printf 'Note %d about gardening, bread and the weather.\nLine two of note %d.\n' "$i" "$i" > "$dir/note$i.md"
done
printf 'The zebra migration plan is approved.\n' > "$corpus/zebra.md"
cat > "$home/config.yaml" <<YAML
log: {level: "off", file: false}
connectors:
  files:
    config:
      roots: ["$corpus"]
YAML

sb="$release/switchboard"
# Build the index once, outside the measurement.
SWITCHBOARD_HOME="$home" "$sb" search zebra > /dev/null

cat > "$work/suite.json" <<JSON
[
  {"name": "floor", "cmd": ["$release/mcp-floor"]},
  {"name": "sb-files-read", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "files__read", "args": {"path": "$corpus/zebra.md"}},
  {"name": "sb-files-search", "cmd": ["$sb", "serve"], "env": {"SWITCHBOARD_HOME": "$home"},
   "tool": "files__search", "args": {"query": "zebra", "limit": 5}}
]
JSON
"$release/mcp-bench" --rounds "$rounds" --suite "$work/suite.json"
