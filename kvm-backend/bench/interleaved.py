#!/usr/bin/env python3
"""Wall time of several VMM command lines, run interleaved (one of each per round), so that a
host whose load drifts during the run hits every command alike — the fair comparison on a
shared host, where hyperfine's one-command-after-the-other blocks see different loads.
Times include this script's fork/exec of each command (~1 ms more than hyperfine -N).

Usage: kvm-backend/bench/interleaved.py RUNS NAME='COMMAND ARGS' ...
  e.g. kvm-backend/bench/interleaved.py 60 \\
         pit="target/release/rxl-kvm --kernel pvh.elf --memory 256 --cmdline quiet" \\
         nopit="target/release/rxl-kvm --kernel pvh.elf --memory 256 --cmdline quiet --no-pit"
Prints per command: median, 10th and 90th percentile (ms), runs under 10 ms; 3 warm-up rounds."""
import shlex
import statistics
import subprocess
import sys
import time

runs = int(sys.argv[1])
cmds = [arg.split("=", 1) for arg in sys.argv[2:]]
times = {name: [] for name, _ in cmds}
for i in range(runs + 3):
    for name, cmd in cmds:
        t0 = time.perf_counter()
        subprocess.run(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i >= 3:
            times[name].append((time.perf_counter() - t0) * 1e3)
for name, _ in cmds:
    t = sorted(times[name])
    n = len(t)
    print(f"{name:12s} median {statistics.median(t):6.1f}  p10 {t[n // 10]:6.1f}  "
          f"p90 {t[(9 * n) // 10]:6.1f}  under 10 ms {sum(x < 10 for x in t)}/{n}")
