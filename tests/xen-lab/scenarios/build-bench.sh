# Benchmark: `rxl create` vs Debian's `xl create` of the same PV config in the same boot, time to
# "running" (the create command returned with the guest unpaused) and to the guest's marker, for
# a PV guest from the ELF vmlinux and from Debian's xz bzImage, and a PVH guest. BENCH lines
# go to docs/performance.md.
# xen-lab timeout: 1500
# xen-lab needs: rxl
BUILD_HELPERS_ONLY=1 . /lab/scenarios/build-pv.sh
lab_need_toolstack
N=${LAB_BENCH_CREATE_N:-3}
# rxl: cold (no cache of unpacked kernels); rxlc: with the cache, primed before its runs.
export RXL_KERNEL_CACHE=off
rxlc() { RXL_KERNEL_CACHE=/tmp/rxl-kernel-cache rxl "$@"; }
# (rxl's xenstore connections are plain sockets, Client::short_lived: over io_uring its ~70
# requests took 74-244 ms instead of 60-70 ms in this lab, so no separate client-mode run.)

# summary LABEL TIMES_NS...: one BENCH line in lab_bench's format.
summary() {
    label=$1; shift
    echo "$@" | tr ' ' '\n' | grep . | sort -n | awk -v label="$label" '
        { v[NR] = $1 / 1e6; sum += v[NR] }
        END {
            runs = ""; for (i = 1; i <= NR; i++) runs = runs sprintf("%s%.3f", i > 1 ? "," : "", v[i])
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "BENCH label=%s n=%d min_ms=%.3f median_ms=%.3f mean_ms=%.3f max_ms=%.3f failed=0 sorted_ms=%s\n",
                label, NR, v[1], med, sum / NR, v[NR], runs
        }'
}

# one TOOL KERNEL TAG I CFG: creates guest bench-TAG-TOOL-I from CFG with TOOL, records both times.
one() {
    tool=$1 kernel=$2 tag=$3 i=$4 cfg=$5 g=bench-$3-$1-$4
    lab_now_ns; t0=$LAB_NS
    $tool create "$cfg" "name=\"$g\"" "kernel=\"$kernel\"" > "$g.out" 2>&1
    rc=$?
    if lab_crashed $rc; then
        # The lab's memory flake (see lab_crashed): this run is left out of the figures, visibly.
        echo "WARN: $tool create $g died of signal $((rc - 128)) (lab flake); run left out: $(tail -2 "$g.out" | tr '\n' ' ')"
        xl destroy "$g" 2>/dev/null
        lab_wait_gone "$g" 60
        return 0
    fi
    if [ $rc != 0 ]; then
        lab_bad "$tool create $g failed: $(tail -3 "$g.out")"; return 1
    fi
    lab_now_ns; t1=$LAB_NS
    d=$(lab_domid "$g")
    # the marker, or the domain's end: a PVH guest that the lab's emulator kills (triple fault,
    # see build-pvh.sh; xl's and rxl's guests alike) is destroyed by on_reboot="destroy"
    # (gone = three lookups in a row found no domain: one `xl domid` may itself die of the
    # lab's memory flake, see lab_crashed)
    lab_secs; end=$((LAB_S + 240)) seen= misses=0
    while [ "$LAB_S" -lt "$end" ] && [ $misses -lt 3 ]; do
        grep -q "$LAB_DOMU_MARK" "$LAB_CONSOLE_DIR/guest-$g.log" 2>/dev/null && { seen=1; break; }
        if lab_domid "$g" > /dev/null; then misses=0; else misses=$((misses + 1)); fi
        sleep 0.2
        lab_secs
    done
    if [ -z "$seen" ]; then
        if [ -n "$d" ] && xl dmesg | grep -q "d${d}v0 Triple fault"; then
            echo "WARN: $g (domain $d) triple-faulted before its marker: the lab emulator's fault" \
                "(build-pvh.sh), seen under xl and rxl alike; run left out of the figures"
            xl destroy "$g" 2>/dev/null
            lab_wait_gone "$g" 60
            return 0
        fi
        lab_bad "$g: no marker"; lab_show_console "$g"; return 1
    fi
    lab_now_ns; t2=$LAB_NS
    eval "run_${tag}_$tool=\"\$run_${tag}_$tool $((t1 - t0))\""
    eval "mark_${tag}_$tool=\"\$mark_${tag}_$tool $((t2 - t0))\""
    lab_ok "$g: running after $(((t1 - t0) / 1000000)) ms, marker after $(((t2 - t0) / 1000000)) ms"
    # Only creation is measured: the guest is destroyed right after its marker, the same way for
    # both tools (whether a guest powers itself off is build-pv's and build-pvh's business).
    xl destroy "$g" 2>/dev/null
    lab_wait_gone "$g" 60 || lab_bad "$g not gone after xl destroy"
}

for item in pv_elf:/lab/domu/vmlinux pv_bzimage:/lab/domu/vmlinuz pvh_elf:/lab/domu/vmlinux; do
    tag=${item%%:*} kernel=${item#*:}
    cfg=/lab/guests/${tag%%_*}.cfg
    tools="xl rxl"
    if [ $tag = pv_bzimage ]; then
        tools="xl rxl rxlc"
        rxlc create -p "$cfg" 'name="bench-prime"' "kernel=\"$kernel\"" && rxl destroy bench-prime
    fi
    i=1
    while [ $i -le "$N" ]; do
        for tool in $tools; do one $tool "$kernel" $tag $i "$cfg"; done
        i=$((i + 1))
    done
    for tool in $tools; do
        eval "r=\$run_${tag}_$tool m=\$mark_${tag}_$tool"
        [ -n "$r" ] && summary "create-$tag-running-$tool" $r
        [ -n "$m" ] && summary "create-$tag-marker-$tool" $m
    done
done
# Where rxl's time goes: `rxl -v create` logs each phase's time and page faults, printed here as
# PHASE lines (exec-to-main from the monotonic clock at main, which the log carries).
for prof in pv_elf pvh_elf; do
    tag=$prof g=prof-$prof
    cfg=/lab/guests/${tag%%_*}.cfg
    lab_now_ns; t0=$LAB_NS
    rxl -v create "$cfg" "name=\"$g\"" > "$g.out" 2>&1
    lab_now_ns; t1=$LAB_NS
    tr -d '\033' < "$g.out" | sed 's/\[[0-9;]*m//g' | grep 'phase:' > "$g.phases"
    main=$(sed -n 's/.*main_mono_ns=\([0-9]*\).*/\1/p' "$g.phases")
    [ -n "$main" ] && echo "PHASE $prof exec to main: ms=$(((main - t0) / 1000000))"
    sed "s/^ *INFO [^ ]* phase: /PHASE $prof /" "$g.phases"
    echo "PHASE $prof command returned: ms=$(((t1 - t0) / 1000000))"
    xl destroy "$g" 2>/dev/null
    lab_wait_gone "$g" 60 || lab_bad "$g not gone after xl destroy"
done
# Start-up baselines of the same boot: a bare fork+exec, and rxl's argument parsing alone.
for c in "/bin/true" "rxl --version"; do
    lab_now_ns; t0=$LAB_NS
    $c > /dev/null
    lab_now_ns
    echo "PHASE baseline $c: ms=$(((LAB_NS - t0) / 1000000))"
done
xl list
lab_done
