# xenstore benchmark, rxl's rxenstored in dom0 (started by /init instead of the C daemon, rings
# served): rxenstore-bench (the same load generator as bench-xenstore-c and
# bench-xenstore-oxenstored) prints ops/s, p50 and p99 for read, write, directory and a
# transaction-heavy mix with 1, 8 and 64 clients over the unix socket.
# Data for docs/performance.md, not a pass/fail test on speed: passes when the generator ran.
# xen-lab xenstored: rxenstored
# xen-lab xenstored-args: --no-state
# xen-lab timeout: 300
# xen-lab needs: rxenstored rxenstore-bench
. /lab/lib.sh
lab_need_toolstack
if rxenstore-bench --daemon rxenstored; then
    lab_ok "load generator ran against rxenstored"
else
    echo "----- rxenstored log (last 20 lines) -----"; tail -20 /tmp/xenstored.log
    lab_bad "rxenstore-bench failed against rxenstored"
fi
lab_done
