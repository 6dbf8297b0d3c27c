# Sharing the machine, versions, per-scenario verdicts and the final report (sourced by run).
# shellcheck shell=bash

# Verdicts: RESULT[name]=PASS|FAIL|SKIP, REASON[name]=why (skip/fail), SECS[name]=run time in dom0.
declare -A RESULT=() REASON=() SECS=()

# wait_for_qemu_slot: one TCG lab at a time on this machine. Takes the lab lock (other runs of this
# harness), then waits while any other QEMU runs (e.g. the GRUB or KVM labs), up to RXL_LAB_WAIT s.
wait_for_qemu_slot() {
    local waited=0 limit=${RXL_LAB_WAIT:-1800} lock=$RXL_CACHE/xen-lab/lab.lock
    mkdir -p "$(dirname "$lock")"
    exec 9> "$lock"
    if ! flock -n 9; then
        log "another xen-lab run holds $lock; waiting up to ${limit}s"
        flock -w "$limit" 9 || die "gave up after ${limit}s waiting for $lock"
    fi
    while pgrep -f '^[^ ]*qemu-system' > /dev/null; do
        if [ $((waited % 60)) = 0 ]; then
            log "waiting for other QEMU runs to finish (never two TCG labs at once): $(pgrep -f '^[^ ]*qemu-system' | tr '\n' ' ')"
        fi
        if [ "$waited" -ge "$limit" ]; then
            log "WARNING: other QEMU processes still run after ${limit}s; starting anyway (expect slow boots)"
            break
        fi
        sleep 5; waited=$((waited + 5))
    done
}

# record_versions: QEMU, host and package versions into $WORK/versions.txt and the run log.
record_versions() {
    {
        echo "qemu: $(qemu-system-x86_64 --version | head -1) (package qemu-system-x86=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || echo '?'))"
        echo "host: $(uname -srm), $(nproc) CPUs"
        sed 's/^/deb: /' "$BASE/versions.txt"
    } > "$WORK/versions.txt"
    log "versions (also in $WORK/versions.txt):"
    sed 's/^/    /' "$WORK/versions.txt"
}

# print_versions_md: VERSIONS.md for the pinned packages and the host's QEMU (needs no boot).
print_versions_md() {
    echo "# Xen lab versions"
    echo
    echo "Regenerate with \`tests/xen-lab/run --versions > tests/xen-lab/VERSIONS.md\`; every run also"
    echo "records what it really used in \`tests/xen-lab/work/versions.txt\` and its log."
    echo "The SMAP and RDTSCP/NRIPS workarounds depend on the QEMU version: rerun the lab when it changes."
    echo
    echo "| component | version |"
    echo "|---|---|"
    echo "| outer QEMU | \`qemu-system-x86=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null)\` ($(qemu-system-x86_64 --version | head -1)) |"
    local name ver
    grep -v '^#' "$REPO/tests/deps/xen-lab.debs" | grep . | while IFS='=' read -r name ver; do
        # shellcheck disable=SC2016 # literal backquotes (markdown)
        printf '| dom0 package | `%s=%s` |\n' "$name" "$ver"
    done
    if [ -f "$WORK/summary.txt" ]; then
        echo
        echo "## Last run on the host that wrote this file ($(date -u -r "$WORK/summary.txt" '+%Y-%m-%d %H:%M UTC'))"
        echo
        echo '```'
        sed "s|$REPO/||g" "$WORK/summary.txt"
        echo '```'
    fi
}

# collect_results SERIAL NONCE NAME...: verdict, time and log of each scenario of one boot.
collect_results() {
    local serial=$1 nonce=$2 s end rc why
    shift 2
    local all
    all=$(markers "$serial" "$nonce")
    for s in "$@"; do
        scenario_log "$serial" "$nonce" "$s" > "$WORK/logs/$s.log"
        [ -s "$WORK/logs/$s.log" ] || rm -f "$WORK/logs/$s.log"
        grep -a '^BENCH ' "$WORK/logs/$s.log" 2>/dev/null | sed "s/^/$s: /" >> "$WORK/bench.txt" || true
        end=$(grep "^END $s " <<< "$all" | head -1 || true)
        if ! grep -q "^BEGIN $s " <<< "$all"; then
            RESULT[$s]=FAIL REASON[$s]="never ran: ${BOOT_WHY:-dom0 stopped before it}"
            continue
        fi
        if [ -z "$end" ]; then
            RESULT[$s]=FAIL REASON[$s]="no end marker: ${BOOT_WHY:-dom0 died during it}"
            continue
        fi
        rc=$(sed -n 's/.* rc=\([0-9]*\).*/\1/p' <<< "$end")
        SECS[$s]=$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<< "$end")
        case $rc in
            0) RESULT[$s]=PASS;;
            77) why=$(grep -a '^SKIP: ' "$WORK/logs/$s.log" 2>/dev/null | tail -1 | cut -c7- || true)
                RESULT[$s]=SKIP REASON[$s]=${why:-"exit 77 without a SKIP: line"};;
            137) RESULT[$s]=FAIL REASON[$s]="killed (rc 137; timeout ${OPT[$s.timeout]}s?)";;
            *) why=$(grep -a '^FAIL: ' "$WORK/logs/$s.log" 2>/dev/null | head -3 | cut -c7- | paste -sd';' - || true)
               RESULT[$s]=FAIL REASON[$s]="rc=$rc${why:+: $why}";;
        esac
    done
}

# report: one line per scenario, boot notes, bench lines, total time; sets N_FAIL.
report() {
    local s n_pass=0 n_fail=0 n_skip=0 note
    echo
    echo "xen-lab results:"
    for s in "${SCENARIOS[@]}"; do
        case ${RESULT[$s]:-FAIL} in
            PASS) n_pass=$((n_pass + 1)); printf '  PASS  %-24s %7ss\n' "$s" "${SECS[$s]:-?}";;
            SKIP) n_skip=$((n_skip + 1)); printf '  SKIP  %-24s %7ss  %s\n' "$s" "${SECS[$s]:--}" "${REASON[$s]}";;
            *) n_fail=$((n_fail + 1)); printf '  FAIL  %-24s %7ss  %s\n' "$s" "${SECS[$s]:--}" "${REASON[$s]:-no result}"
               [ ! -f "$WORK/logs/$s.log" ] || printf '        log: %s\n' "$WORK/logs/$s.log";;
        esac
    done | tee "$WORK/summary.txt"
    for note in "${BOOT_NOTES[@]}"; do echo "  $note"; done | tee -a "$WORK/summary.txt"
    # A failure's evidence must reach CI's output, not only a log file on the CI machine.
    for s in "${SCENARIOS[@]}"; do
        if [ "${RESULT[$s]:-FAIL}" != FAIL ] || [ ! -f "$WORK/logs/$s.log" ]; then continue; fi
        echo "----- $s: last 80 lines of its log -----"
        tail -80 "$WORK/logs/$s.log" | sed 's/^/  | /'
        echo "----- end of $s -----"
    done
    if [ -s "$WORK/bench.txt" ]; then
        echo "benchmarks ($WORK/bench.txt):"
        sed 's/ sorted_ms=.*//; s/^/  /' "$WORK/bench.txt"
    fi
    n_pass=$(grep -c '^  PASS' "$WORK/summary.txt" || true)
    n_fail=$(grep -c '^  FAIL' "$WORK/summary.txt" || true)
    n_skip=$(grep -c '^  SKIP' "$WORK/summary.txt" || true)
    echo "xen-lab: $n_pass passed, $n_fail failed, $n_skip skipped; total $(( $(date +%s) - T_START ))s" | tee -a "$WORK/summary.txt"
    N_FAIL=$n_fail
}
