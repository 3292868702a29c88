#!/usr/bin/env bash
# Release-build figures (issue 14): for each profile variant, a cold `cargo build
# --release` of the pl-doctor binary in a target dir of its own, then the binary's size.
# `strip` changes only the final link, so it is measured as a relink of each variant.
# Prints one row per variant. Not a test and not part of CI: it takes several cold
# release builds (~9 min each on an idle 2-core machine).
#
#   bash scripts/release-figures.sh [OUT_DIR]     # default OUT_DIR: /tmp/pl-doctor-release-figures
#
# Wall time depends on what else the machine runs; the CPU time (user + sys of cargo and
# every rustc/linker it starts) is the steadier figure, and the one to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/pl-doctor-release-figures}"
mkdir -p "$out"
export CARGO_TERM_COLOR=never

# name | cargo --config overrides
variants=(
    "default|"
    "lto-thin|profile.release.lto=\"thin\""
    "lto-thin+cgu1|profile.release.lto=\"thin\" profile.release.codegen-units=1"
    "cgu1|profile.release.codegen-units=1"
)
only="${PL_FIGURES_ONLY:-}"

measure() { # target_dir, log, config args... → prints "wall_s cpu_s"
    local dir="$1" log="$2"
    shift 2
    local start end
    start=$(date +%s.%N)
    /usr/bin/env time -f "%U %S" -o "$log.time" \
        cargo build --release --locked --bin pl-doctor "$@" >"$log" 2>&1
    end=$(date +%s.%N)
    read -r user sys <"$log.time"
    python3 -c "print(f'{$end-$start:.0f} {$user+$sys:.0f}')"
}

printf '%-16s %10s %10s %12s %14s %12s\n' variant wall_s cpu_s size_MB strip_relink_s stripped_MB
for v in "${variants[@]}"; do
    name="${v%%|*}"
    overrides="${v#*|}"
    if [[ -n "$only" && ",$only," != *",$name,"* ]]; then continue; fi
    args=()
    for o in $overrides; do args+=(--config "$o"); done
    dir="$out/target-$name"
    rm -rf "$dir"
    read -r wall cpu < <(CARGO_TARGET_DIR="$dir" measure "$dir" "$out/$name.log" "${args[@]}")
    size=$(stat -c %s "$dir/release/pl-doctor")
    read -r swall _ < <(CARGO_TARGET_DIR="$dir" measure "$dir" "$out/$name-strip.log" "${args[@]}" --config 'profile.release.strip=true')
    ssize=$(stat -c %s "$dir/release/pl-doctor")
    printf '%-16s %10s %10s %12.1f %14s %12.1f\n' "$name" "$wall" "$cpu" \
        "$(python3 -c "print($size/1e6)")" "$swall" "$(python3 -c "print($ssize/1e6)")" | tee -a "$out/figures.txt"
    rm -rf "$dir"
done
