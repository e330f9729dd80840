#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the black-box tests that drive the
# built binary over real pipes with real plugins. CI runs exactly this (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# Plugin panics in the tests are expected; keep their output to the message.
RUST_BACKTRACE=0 cargo test --workspace --locked
