#!/usr/bin/env bash
# Runs every test of pl-doctor on a fresh machine with only the Rust toolchain and
# Python 3.11: unit tests of the core, the fixture replays through the real binary,
# the CLI tests, and the end-to-end suite against the AWS API emulator (moto's server,
# provisioned here into a venv under the cargo target dir on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds are large; keep them outside the clone when the caller says so (CI does).
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Snapshot tests never rewrite their snapshots here: a difference is a failure.
export INSTA_UPDATE=no

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== AWS API emulator (moto[server], pinned; installed once under the target dir)"
bash scripts/emulator.sh >/dev/null

echo "== chromium (the HTML report's browser test, tests/html_browser.rs)"
if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core; } >/tmp/pl-doctor-chromium.log 2>&1; then
    tail -20 /tmp/pl-doctor-chromium.log >&2
    echo "cannot install Debian's chromium package: the HTML browser test needs it (log: /tmp/pl-doctor-chromium.log)" >&2
    exit 1
  fi
fi

echo "== cargo test (workspace, all features)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --all-features --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# cargo prints one "test result" line per test binary, the doc tests' last; close
# with the totals so the run's last line says how many tests ran in all.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
