#!/usr/bin/env bash
# Release-build figures (issue 14): for each profile variant, a cold `cargo build
# --release` of the pl-doctor binary in a target dir of its own, the binary's size, and
# its size after strip(1), which removes what `strip = true` (`-C strip=symbols`) removes
# at link time. (Changing `strip` in the profile makes cargo rebuild every crate, since
# the profile is part of each unit's fingerprint, though only the final link differs; so
# it is not rebuilt here.) Not a test and not part of CI: each variant is a cold release
# build (~9 min on an idle 2-core machine, much longer on a busy one).
#
#   bash scripts/release-figures.sh [OUT_DIR]      # default OUT_DIR: /tmp/pl-doctor-release-figures
#   PL_FIGURES_ONLY=default,lto-thin bash scripts/release-figures.sh
#
# Wall time depends on what else the machine runs; the CPU time (user + sys of cargo and
# every rustc and linker it starts) is the steadier figure, and the one to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/pl-doctor-release-figures}"
mkdir -p "$out"
export CARGO_TERM_COLOR=never

# name | cargo --config overrides of [profile.release]
variants=(
    "default|"
    "lto-thin|profile.release.lto=\"thin\""
    "cgu1|profile.release.codegen-units=1"
    "lto-thin+cgu1|profile.release.lto=\"thin\" profile.release.codegen-units=1"
)
only="${PL_FIGURES_ONLY:-}"

printf '%-14s %8s %8s %9s %12s\n' variant wall_s cpu_s size_MB stripped_MB
for v in "${variants[@]}"; do
    name="${v%%|*}"
    overrides="${v#*|}"
    if [[ -n "$only" && ",$only," != *",$name,"* ]]; then continue; fi
    args=()
    for o in $overrides; do args+=(--config "$o"); done
    dir="$out/target-$name"
    rm -rf "$dir"
    start=$(date +%s)
    CARGO_TARGET_DIR="$dir" /usr/bin/time -f "%U %S" -o "$out/$name.time" \
        cargo build --release --locked --bin pl-doctor "${args[@]}" >"$out/$name.log" 2>&1
    wall=$(($(date +%s) - start))
    read -r user sys <"$out/$name.time"
    bin="$dir/release/pl-doctor"
    strip -o "$out/pl-doctor-$name-stripped" "$bin"
    printf '%-14s %8s %8.0f %9.1f %12.1f\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" \
        "$(echo "$(stat -c %s "$bin") / 1000000" | bc -l)" \
        "$(echo "$(stat -c %s "$out/pl-doctor-$name-stripped") / 1000000" | bc -l)" | tee -a "$out/figures.txt"
    cp "$bin" "$out/pl-doctor-$name"
    rm -rf "$dir"
done
