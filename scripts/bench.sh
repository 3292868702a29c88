#!/usr/bin/env bash
# The latency benchmark of issue 7: pl-doctor's one-endpoint diagnosis against the
# seed's manual runbook as AWS CLI commands, both through a proxy that adds a per-call
# delay in front of the AWS API emulator (benches/runbook_latency.rs). Not a test, not
# part of scripts/test.sh or CI: it prints figures, it asserts no timing.
#
#   bash scripts/bench.sh             # pl-doctor built with the dev profile (the default)
#   bash scripts/bench.sh --release   # built with the release profile (~9 min cold build)
#   bash scripts/bench.sh --accounts-only   # only the many-accounts benchmark of issue 11
#   PL_BENCH_ONLY=changes bash scripts/bench.sh   # only issue 15's --changes off vs on
#
# Then the many-accounts benchmark (benches/accounts_scale.rs): PL_BENCH_ACCOUNTS consumer
# accounts (default 120) × 1 endpoint, `--service --consumer-role-name` and `--all --org`.
#
# Environment: PL_BENCH_RTT_MS (injected delay per call, default 50), PL_BENCH_RUNS
# (pl-doctor runs, default 5), PL_BENCH_CLI_RUNS (runbook runs, default 3); for the
# many-accounts one PL_BENCH_ACCOUNTS (default 120) and PL_BENCH_SNAPSHOT=FILE (keep the
# --all --org snapshot, to replay it offline).
#
# Provisions on first use, under the cargo target dir: moto (scripts/emulator.sh) and
# the AWS CLI v1, pinned, in a venv of its own (awscli pins botocore, which would fight
# moto's). Needs Python 3.9+ with venv/pip and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

AWSCLI_VERSION="1.45.11"
profile_args=(--profile dev)
latency=1
for arg in "$@"; do
    case "$arg" in
        --release) profile_args=() ;; # cargo bench's own profile: `bench`, which inherits release
        --accounts-only) latency=0 ;;
        *)
            echo "bench.sh: unknown argument $arg (only --release, --accounts-only)" >&2
            exit 2
            ;;
    esac
done

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="${CARGO_TARGET_DIR:-target}"

echo "== AWS API emulator (moto[server], pinned; installed once under the target dir)"
bash scripts/emulator.sh >/dev/null

echo "== AWS CLI v1 (awscli==$AWSCLI_VERSION, pinned; its own venv under the target dir)"
venv="${PL_BENCH_AWSCLI_VENV:-$target_dir/awscli-venv}"
stamp="$venv/.pl-doctor-awscli-$AWSCLI_VERSION"
if [[ ! -f "$stamp" || ! -x "$venv/bin/aws" ]]; then
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
        echo "bench.sh: no python3 found (need Python 3.9+ with venv and pip; set PYTHON=...)" >&2
        exit 1
    fi
    echo "bench.sh: installing awscli==$AWSCLI_VERSION into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "awscli==$AWSCLI_VERSION" 1>&2
    touch "$stamp"
fi
aws="$(cd "$venv/bin" && pwd)/aws"
"$aws" --version

if [[ "$latency" == 1 ]]; then
    echo "== cargo bench ${profile_args[*]:-(release)} --bench runbook_latency"
    PL_BENCH_AWS="$aws" cargo bench --locked "${profile_args[@]}" --bench runbook_latency
fi

echo "== cargo bench ${profile_args[*]:-(release)} --bench accounts_scale"
cargo bench --locked "${profile_args[@]}" --bench accounts_scale
