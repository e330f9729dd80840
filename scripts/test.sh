#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, the black-box tests that drive the
# built binary over real pipes with real plugins and servers, the official MCP conformance
# suite, and the official SDK clients. CI runs exactly this (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Debian packages the tests use (installed when missing)"
# A private session bus for the desktop-notification tests: dbus-daemon, dbus-monitor; and
# Chromium for the MCP App card and the approval page (driven headless by playwright-core).
need=()
command -v dbus-daemon > /dev/null || need+=(dbus-daemon)
command -v dbus-monitor > /dev/null || need+=(dbus-bin)
[ -x /usr/bin/chromium ] || need+=(chromium)
# The secrets stores: the kernel keyring (keyctl), a real Secret Service (gnome-keyring) and
# libsecret's secret-tool to cross-check it (tests/host/secrets.rs).
command -v keyctl > /dev/null || need+=(keyutils)
command -v gnome-keyring-daemon > /dev/null || need+=(gnome-keyring)
command -v secret-tool > /dev/null || need+=(libsecret-tools)
# A real PostgreSQL server for the database connector's tests: Debian's postgresql package
# (its initdb and pg_ctl; tests/postgres starts a throwaway cluster from them).
compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# The keyring tests fail, instead of skipping, when a store they need is missing.
export SWITCHBOARD_TEST_REQUIRE_KEYRINGS=1
# Likewise the PostgreSQL tests when the server binaries are missing.
export SWITCHBOARD_TEST_REQUIRE_POSTGRES=1
# Plugin panics in the tests are expected; keep their output to the message.
RUST_BACKTRACE=0 cargo test --workspace --locked

echo "== the conformance suite and external clients (debug build)"
cargo build --workspace --locked
scripts/conformance.sh
scripts/e2e-clients.sh
