# rxl's own binaries for dom0 (sourced by tests/xen-lab/run): release builds from the workspace.
# Fills BIN_PATH[bin]=file for every binary a selected scenario needs and that exists, and
# BIN_MISSING[bin]=why / BIN_BROKEN[bin]=why for those that do not: a binary with no target yet, or
# whose crate does not build yet, skips its scenarios (loudly; suites 10-lint and 20-unit fail on a
# broken build); a built binary dom0 cannot load fails them.
# shellcheck shell=bash

declare -A BIN_PATH=() BIN_MISSING=() BIN_BROKEN=()

# prepare_binaries SCENARIO...: builds (unless RXL_LAB_NO_BUILD=1) and locates the needed binaries.
prepare_binaries() {
    local s b meta target_dir want=() build=() have
    for s in "$@"; do
        for b in ${OPT[$s.needs]}; do
            [[ " ${want[*]} " == *" $b "* ]] || want+=("$b")
        done
    done
    [ ${#want[@]} -gt 0 ] || return 0
    command -v cargo >/dev/null || { for b in "${want[@]}"; do BIN_MISSING[$b]="cargo is not installed"; done; return 0; }
    meta=$(cargo metadata --no-deps --format-version 1 --manifest-path "$REPO/Cargo.toml") \
        || die "cargo metadata failed for $REPO/Cargo.toml"
    target_dir=$(jq -r .target_directory <<< "$meta")
    have=" $(jq -r '.packages[].targets[] | select(.kind | index("bin")) | .name' <<< "$meta" | tr '\n' ' ') "
    for b in "${want[@]}"; do
        if [[ $have == *" $b "* ]]; then build+=("$b")
        else BIN_MISSING[$b]="the workspace has no '$b' binary target yet"; fi
    done
    # one cargo call per binary: a crate that does not build yet only takes its own scenarios out
    if [ "${RXL_LAB_NO_BUILD:-0}" != 1 ]; then
        for b in "${build[@]}"; do
            log "cargo build --release --bin $b (log: $WORK/logs/cargo-build-$b.log)"
            if ! nice -n 10 cargo build --release --manifest-path "$REPO/Cargo.toml" --bin "$b" \
                > "$WORK/logs/cargo-build-$b.log" 2>&1; then
                BIN_MISSING[$b]="cargo build of $b failed (crate not ready?): $(grep -m1 '^error' "$WORK/logs/cargo-build-$b.log" || true); log $WORK/logs/cargo-build-$b.log"
                log "WARNING: ${BIN_MISSING[$b]}"
            fi
        done
    fi
    for b in "${want[@]}"; do
        [ -z "${BIN_MISSING[$b]:-}" ] || continue
        if [ -x "$target_dir/release/$b" ]; then BIN_PATH[$b]=$target_dir/release/$b
        else BIN_MISSING[$b]="$target_dir/release/$b is not built (RXL_LAB_NO_BUILD=1?)"; fi
    done
}

# check_binary_libs: every binary for dom0 must load with dom0's libraries (bookworm glibc).
check_binary_libs() {
    local b tmp miss
    for b in "${!BIN_PATH[@]}"; do
        tmp=tmp/rxl-libcheck-$$-$b
        cp "${BIN_PATH[$b]}" "$BASE/root/$tmp"
        miss=$(missing_libs "$BASE/root" "$tmp")
        rm -f "$BASE/root/$tmp"
        if [ -n "$miss" ]; then
            BIN_BROKEN[$b]="${BIN_PATH[$b]} cannot load in dom0: $(echo "$miss" | tr '\n' ' ')"
            unset "BIN_PATH[$b]"
        fi
    done
}
