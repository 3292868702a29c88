#!/usr/bin/env bash
# Provisions the AWS API emulator the end-to-end suite runs against: moto's server,
# pinned, in a Python venv under the cargo target dir. Idempotent: when the venv
# already holds the pinned version this returns in well under a second.
#
#   bash scripts/emulator.sh          # install if needed, print the venv path
#
# Needs only Python 3.11+ with venv/pip (PYTHON overrides the interpreter).
# The test harness (tests/support/emulator.rs) finds the venv at the same path.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
target_dir="${CARGO_TARGET_DIR:-target}"
venv="${PL_DOCTOR_MOTO_VENV:-$target_dir/moto-venv}"
stamp="$venv/.pl-doctor-moto-$MOTO_VERSION"

if [[ -f "$stamp" && -x "$venv/bin/moto_server" ]]; then
    echo "$venv"
    exit 0
fi

# Test processes and this script may race to install on a fresh machine: one at a time.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock 9
    if [[ -f "$stamp" && -x "$venv/bin/moto_server" ]]; then
        echo "$venv"
        exit 0
    fi
fi

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            python="$candidate"
            break
        fi
    done
fi
if [[ -z "$python" ]]; then
    echo "emulator.sh: no python3 found (need Python 3.11+ with venv and pip; set PYTHON=...)" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)'; then
    echo "emulator.sh: $python is $("$python" --version 2>&1); moto $MOTO_VERSION needs Python 3.9+" >&2
    exit 1
fi

echo "emulator.sh: installing moto[server]==$MOTO_VERSION into $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
# Progress goes to stderr so stdout stays the venv path for callers.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" 1>&2
"$venv/bin/python" -c "import moto, sys; assert moto.__version__ == '$MOTO_VERSION', moto.__version__"
touch "$stamp"
echo "$venv"
