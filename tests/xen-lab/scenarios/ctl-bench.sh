# Control-plane latency breakdown in one dom0 (data for docs/performance.md, never asserted):
# process start (rxl --version), hypercalls only (rxl info), one xenstore read (rxl domname 0),
# rxl list / xl list, rxl info / xl info. Checks only that every command succeeds.
# xen-lab timeout: 600
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack
lab_need_bin rxl
N=${LAB_BENCH_N:-20}
bench() { if lab_bench "$@"; then lab_ok "$2 runs of $1"; else lab_bad "$1 failed in the benchmark"; fi; }
bench ctl-true "$N" /bin/true
bench ctl-rxl-version "$N" rxl --version
bench ctl-xl-list "$N" xl list
bench ctl-rxl-list "$N" rxl list
bench ctl-xl-info "$N" xl info
bench ctl-rxl-info "$N" rxl info
bench ctl-xl-domname "$N" xl domname 0
bench ctl-rxl-domname "$N" rxl domname 0
bench ctl-xl-vcpu-list "$N" xl vcpu-list
bench ctl-rxl-vcpu-list "$N" rxl vcpu-list
lab_done
