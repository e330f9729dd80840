#!/usr/bin/env bash
# The unified search with all four data sources answering: local files beside Outlook (Graph),
# Box and Snowflake (Cortex Search), the three remote ones served by their stand-ins
# (tests/mocks, `service-mocks`, on loopback), against the same search over files alone, in
# one alternating mcp-bench run. What it measures is switchboard's fan-out and the connectors'
# own cost (HTTP, JSON, paging, tokens), not a real service's latency. Release builds.
#
#   scripts/bench.sh sources          # 5 rounds of 300 sequential searches each
#   ROUNDS=3 CALLS=200 BUILD=0 scripts/bench.sh sources
source "$(dirname "$0")/bench-prelude.sh"
rounds=${ROUNDS:-5}
calls=${CALLS:-300}

if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release --locked -p switchboard -p switchboard-files -p switchboard-outlook \
    -p switchboard-box -p switchboard-snowflake -p switchboard-mocks
  build_driver
fi

# The stand-ins, until this script ends (their stdin is a pipe we hold open).
mkfifo "$work/mocks-in"
"$release/service-mocks" < "$work/mocks-in" > "$work/mocks.json" &
mocks_pid=$!
exec 3> "$work/mocks-in"
# Closing their input ends the stand-ins; the script keeps its own status (errexit is on, so
# nothing in here may fail).
trap 'status=$?; exec 3>&-; wait "$mocks_pid" 2>/dev/null || true; rm -rf "$work"; exit $status' EXIT
for _ in $(seq 100); do [[ -s $work/mocks.json ]] && break; sleep 0.1; done
[[ -s $work/mocks.json ]] || { echo "service-mocks did not start" >&2; exit 1; }

home=$work/home
notes=$work/notes
mkdir -p "$home" "$notes"
for n in $(seq 1 200); do
  echo "Note $n about the garden, the weather and the market." > "$notes/note$n.md"
done
for n in 1 2 3; do
  echo "Budget review $n: travel is cut and the budget for tools grows." > "$notes/budget$n.md"
done
python3 - "$work/mocks.json" "$notes" > "$home/config.yaml" <<'PY'
import json, sys
mocks = json.load(open(sys.argv[1]))
config = {
    "log": {"level": "off", "file": False},
    "plugins": {"bundled": True},
    "approvals": {"default": "allow"},
    "connectors": {"files": {"config": {"roots": [sys.argv[2]], "rescan_seconds": 3600}}},
}
for name in ("outlook", "box", "snowflake"):
    section = {"enabled": True, "config": mocks[name]["config"], "secrets": {}}
    for secret in mocks[name]["secrets"]:
        section["secrets"][secret] = "${env:BENCH_%s_%s}" % (name.upper(), secret.upper())
    config["connectors"][name] = section
print(json.dumps(config, indent=2))  # JSON is YAML
PY
# The credentials the stand-ins accept, handed over as environment variables.
env_json=$(python3 - "$work/mocks.json" "$home" <<'PY'
import json, sys
mocks = json.load(open(sys.argv[1]))
env = {"SWITCHBOARD_HOME": sys.argv[2]}
for name in ("outlook", "box", "snowflake"):
    for secret, value in mocks[name]["secrets"].items():
        env["BENCH_%s_%s" % (name.upper(), secret.upper())] = value
print(json.dumps(env))
PY
)
sb="$release/switchboard"
# One search first: it builds the files index, and proves all four sources answer.
env $(python3 -c 'import json,sys; print(" ".join(f"{k}={v}" for k,v in json.loads(sys.argv[1]).items()))' "$env_json") \
  "$sb" search budget --limit 20 > "$work/first.json"
python3 - "$work/first.json" <<'PY'
import json, sys
found = json.load(open(sys.argv[1]))
sources = sorted({hit["source"] for hit in found["results"]})
if sources != ["box", "files", "outlook", "snowflake"] or found["errors"]:
    sys.exit(f"not all four sources answered: {sources}, errors {found['errors']}")
print(f"all four sources answer: {len(found['results'])} hits from {', '.join(sources)}", file=sys.stderr)
PY

cat > "$work/suite.json" <<JSON
[
  {"name": "search-files-only", "cmd": ["$sb", "serve"], "env": $env_json,
   "tool": "search", "args": {"query": "budget", "limit": 10, "sources": ["files"]},
   "calls": $calls, "pipelined": 0, "list": 0, "warmup": 20},
  {"name": "search-all-four", "cmd": ["$sb", "serve"], "env": $env_json,
   "tool": "search", "args": {"query": "budget", "limit": 10},
   "calls": $calls, "pipelined": 0, "list": 0, "warmup": 20}
]
JSON
echo "rounds=$rounds calls=$calls load=$(cut -d' ' -f1-3 /proc/loadavg)"
"$release/mcp-bench" --rounds "$rounds" --suite "$work/suite.json"
