# xenstore benchmark, Debian's C xenstored vs rxl's rxenstored in the same boot: the C daemon runs
# as /init starts it (dom0's ring, /run/xenstored/socket); rxenstored runs beside it in socket mode
# (--no-xen, its own socket), serving the very same request path a dom0 client uses. The load
# generator rxenstore-bench (the same as in bench-xenstore-rxenstored and -oxenstored) runs
# read, write, directory and a transaction-heavy mix with 1, 8 and 64 clients against each daemon
# in turn, REPS rounds with the order swapped every round, so both see the same boot, the same
# emulated kernel and the same host noise. docs/performance.md takes the medians.
# rxenstored runs its default event loop (io_uring where the kernel offers it; the scenario
# checks which one it logged) and polls before blocking; the generator's client polls for
# its replies (both adaptive, src/spin.rs). Three extra mix-only rows separate the parts:
# rxenstored-nopoll (the daemon does not poll, --poll-us 0), and c-nocpoll and
# rxenstored-nocpoll (the generator's client does not poll, RXENSTORE_CLIENT_POLL_US=0).
# The daemons' own CPU time per round is printed too (BENCH xenstore-cpu).
# Data for docs/performance.md, not a pass/fail test on speed: passes when the generator ran.
# xen-lab xenstored: c
# xen-lab timeout: 1200
# xen-lab needs: rxenstored rxenstore-bench
. /lab/lib.sh
lab_need_toolstack
reps=5 secs=2
rx=/run/rxenstored-bench/socket
rxn=/run/rxenstored-bench/nopoll.socket
RUST_LOG=info rxenstored --no-xen --no-state --socket "$rx" > /tmp/rxenstored-bench.log 2>&1 &
rxpid=$!
RUST_LOG=info rxenstored --no-xen --no-state --poll-us 0 --socket "$rxn" > /tmp/rxenstored-nopoll.log 2>&1 &
rxnpid=$!
lab_secs; end=$((LAB_S + 60))
until XENSTORED_PATH=$rx timeout 3 xenstore-ls / > /dev/null 2>&1; do
    lab_secs; [ "$LAB_S" -lt $end ] || { cat /tmp/rxenstored-bench.log; lab_fail "rxenstored does not answer on $rx within 60 s"; }
    sleep 1
done
lab_ok "C xenstored on /run/xenstored/socket, rxenstored (socket mode) on $rx"
until [ -S "$rxn" ]; do
    lab_secs; [ "$LAB_S" -lt $end ] || { cat /tmp/rxenstored-nopoll.log; lab_fail "rxenstored --poll-us 0 has no socket $rxn within 60 s"; }
    sleep 1
done
io_loop=$(sed -n 's/.*rxenstored ready io_loop="\([a-z_]*\)".*/\1/p' /tmp/rxenstored-bench.log)
echo "BENCH xenstore-loop daemon=rxenstored io_loop=${io_loop:-unknown} kernel=$(uname -r)"
if [ "$io_loop" = io_uring ]; then lab_ok "rxenstored serves with its io_uring loop in dom0 ($(uname -r))"
else cat /tmp/rxenstored-bench.log; lab_bad "rxenstored did not choose io_uring in dom0 (logged: ${io_loop:-nothing})"; fi
cpid=$(cat /run/xenstored.pid)
# cpu_ticks PID: user + system time of PID so far, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# daemon_cpu LABEL PID TICKS_BEFORE: the daemon's own CPU time for the round just run (the load
# generator's share excluded), as a BENCH line the runner collects
daemon_cpu() {
    echo "BENCH xenstore-cpu daemon=$1 round=$r cpu_ms=$((($(cpu_ticks "$2") - $3) * 10))"  # USER_HZ is 100 on x86 Linux
}
bench_c() {
    t=$(cpu_ticks "$cpid")
    if rxenstore-bench --daemon c --secs $secs; then lab_ok "round $r: load generator ran against the C xenstored"
    else lab_bad "round $r: rxenstore-bench failed against the C xenstored"; fi
    daemon_cpu c "$cpid" "$t"
}
bench_rx() {
    t=$(cpu_ticks "$rxpid")
    if XENSTORED_PATH=$rx rxenstore-bench --daemon rxenstored --secs $secs; then
        lab_ok "round $r: load generator ran against rxenstored"
    else
        tail -20 /tmp/rxenstored-bench.log
        lab_bad "round $r: rxenstore-bench failed against rxenstored"
    fi
    daemon_cpu rxenstored "$rxpid" "$t"
}
# The extra mix-only rows (see the header).
bench_extra() {
    t=$(cpu_ticks "$rxnpid")
    XENSTORED_PATH=$rxn rxenstore-bench --daemon rxenstored-nopoll --ops mix --secs $secs || lab_bad "round $r: rxenstored-nopoll row failed"
    daemon_cpu rxenstored-nopoll "$rxnpid" "$t"
    if RXENSTORE_CLIENT_POLL_US=0 rxenstore-bench --daemon c-nocpoll --ops mix --secs $secs &&
        RXENSTORE_CLIENT_POLL_US=0 XENSTORED_PATH=$rx rxenstore-bench --daemon rxenstored-nocpoll --ops mix --secs $secs; then
        lab_ok "round $r: extra mix rows ran (rxenstored-nopoll, c-nocpoll, rxenstored-nocpoll)"
    else lab_bad "round $r: an extra mix row failed"; fi
}
for r in $(seq "$reps"); do
    if [ $((r % 2)) = 1 ]; then bench_c; bench_rx; else bench_rx; bench_c; fi
    bench_extra
done
kill "$rxpid" "$rxnpid" 2>/dev/null
lab_done
