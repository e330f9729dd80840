#!/usr/bin/env bash
# Fuzz the message path (the stdio line decoder) and the configuration parser with cargo fuzz
# (libFuzzer), for a bounded time each. Not part of CI: it needs a sanitizer build.
#
#   scripts/fuzz.sh              # 60 s per target
#   SECONDS_PER_TARGET=600 scripts/fuzz.sh
#
# cargo fuzz needs nightly compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_TARGET:-60}
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.1 --locked
fi
export RUSTC_BOOTSTRAP=1
for target in message config; do
  echo "== fuzzing $target for ${seconds}s"
  cargo fuzz run --fuzz-dir fuzz "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096
done
