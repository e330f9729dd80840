# Sourced by the bench scripts (bench.sh, bench-servers.sh, bench-stdio.sh): the repository
# root as the working folder and $root, $release (the release folder of CARGO_TARGET_DIR,
# default target/), a helper that builds the mcp-bench driver into that target folder, and a
# scratch folder $work removed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}
release=$target_dir/release

build_driver() {
  CARGO_TARGET_DIR="$target_dir" cargo build --release --locked --manifest-path bench/mcp-bench/Cargo.toml
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
