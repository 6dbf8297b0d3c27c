# xenstore benchmark, Debian's oxenstored (xen-utils-4.17) in dom0: this boot has no daemon from
# /init, so the scenario starts oxenstored itself (Debian's /etc/xen/oxenstored.conf, as
# xencommons would) and runs rxenstore-bench (the same load generator as bench-xenstore-c and
# bench-xenstore-rxenstored): ops/s, p50 and p99 for read, write, directory and a
# transaction-heavy mix with 1, 8 and 64 clients over the unix socket.
# Data for docs/performance.md, not a pass/fail test on speed: passes when the generator ran.
# xen-lab xenstored: none
# xen-lab timeout: 300
# xen-lab needs: rxenstore-bench
. /lab/lib.sh
lab_need_bin oxenstored
oxenstored --pid-file /run/oxenstored.pid > /tmp/oxenstored.out 2>&1 \
    || { cat /tmp/oxenstored.out; lab_fail "oxenstored did not start"; }
lab_secs; end=$((LAB_S + 60))
until timeout 3 xenstore-ls / > /dev/null 2>&1; do
    lab_secs; [ "$LAB_S" -lt $end ] || { cat /tmp/oxenstored.out; lab_fail "oxenstored does not answer within 60 s"; }
    sleep 1
done
lab_ok "oxenstored answers on $(ls /run/xenstored/socket)"
if rxenstore-bench --daemon oxenstored; then
    lab_ok "load generator ran against oxenstored"
else
    lab_bad "rxenstore-bench failed against oxenstored"
fi
kill "$(cat /run/oxenstored.pid)" 2>/dev/null
lab_done
