#!/usr/bin/env bash
# The files connector at 100k real files (issue 12): a corpus built once from what the machine
# has (cargo registry sources, the Rust toolchain's docs and sources, Python's library, docs,
# man pages decompressed, headers, plus 4,000 binary files and text files over the 1 MiB cap),
# copied under target/bench/files-corpus and reused while its manifest exists; then one run of
# a long-running `switchboard serve` (release) searching it with `files__search`, against plain
# SQLite FTS5 on the same corpus with the same queries. Not run in CI: it takes many minutes
# and a few GB of disk. Results: a markdown table on stderr, one JSON line per figure on stdout.
#
#   scripts/bench-files-scale.sh            # or: scripts/bench.sh files-scale
#   ROUNDS=7 DEFAULT_WAIT=1500 scripts/bench-files-scale.sh
#   rm -r target/bench/files-corpus*        # to rebuild the corpus
source "$(dirname "$0")/bench-prelude.sh"

cargo build --release --locked -p switchboard -p switchboard-files
corpus=$root/target/bench/files-corpus
python3 scripts/bench-files-scale.py corpus "$corpus"
# A private copy of the binary and the bundled files connector beside it (bundled connectors
# load from the executable's folder), so a build in the shared target folder during the run
# cannot swap them.
bin=$work/bin
mkdir -p "$bin"
cp target/release/switchboard target/release/libswitchboard_files.so "$bin/"

# A dropped page cache needs root; say what the load was while measuring.
echo "machine: nproc $(nproc), $(awk '/MemTotal/ {printf "%.1f GB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r); load: $(uptime)" >&2
python3 scripts/bench-files-scale.py run "$bin/switchboard" "$corpus" "$work"
echo "load after: $(uptime)" >&2
