# xenstore benchmark, Debian's C xenstored in dom0: rxenstore-bench (the same load generator as
# bench-xenstore-rxenstored and bench-xenstore-oxenstored) prints ops/s, p50 and p99 for read,
# write, directory and a transaction-heavy mix with 1, 8 and 64 clients over the unix socket.
# Data for docs/performance.md, not a pass/fail test on speed: passes when the generator ran.
# xen-lab xenstored: c
# xen-lab timeout: 300
# xen-lab needs: rxenstore-bench
. /lab/lib.sh
lab_need_toolstack
if rxenstore-bench --daemon c; then
    lab_ok "load generator ran against the C xenstored"
else
    lab_bad "rxenstore-bench failed against the C xenstored"
fi
lab_done
