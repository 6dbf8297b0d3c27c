# Benchmark hook: latency of `xl list` / `xl info` and, once they exist, `rxl list` / `rxl info`,
# in the same dom0 (BENCH lines land in tests/xen-lab/work/bench.txt). Asserts only that xl's runs
# succeed; numbers are data for docs/performance.md, never asserted.
# xen-lab timeout: 300
. /lab/lib.sh
lab_need_toolstack
N=${LAB_BENCH_N:-10}
lab_bench fork-exec "$N" /bin/true && lab_ok "baseline: $N runs of /bin/true (fork+exec cost)"
for verb in list info; do
    if lab_bench "xl-$verb" "$N" xl "$verb"; then lab_ok "$N runs of xl $verb"; else lab_bad "xl $verb failed in the benchmark"; fi
done
# Start-up alone (no hypercall, no xenstore): what each binary costs before doing any work.
lab_bench xl-help "$N" xl help && lab_ok "$N runs of xl help"
command -v rxl >/dev/null && lab_bench rxl-version "$N" rxl --version && lab_ok "$N runs of rxl --version"
for verb in list info; do
    if command -v rxl >/dev/null && rxl "$verb" --help >/dev/null 2>&1; then
        if lab_bench "rxl-$verb" "$N" rxl "$verb"; then lab_ok "$N runs of rxl $verb"; else lab_bad "rxl $verb failed in the benchmark"; fi
    else
        echo "note: rxl $verb not available yet; not benchmarked"
    fi
done
lab_done
