# Sourced by l1-init.sh (uses its say and rc): the domain file both labs boot unchanged,
# tests/portable/devices.cfg (kernel, ramdisk, a raw disk, a vif on xenbr0), under
# `rxl --backend kvm create`, as the Xen lab's portable-cfg scenario boots it under `rxl create`.
# The guest (tests/portable/init) prints its disk's sha256 and its ping of 10.99.0.1, then powers
# off; on_poweroff="destroy" must then remove the domain. The file names Xen's usual bridge,
# xenbr0: for this run dom0's address moves from br0 to a xenbr0, and back afterwards.
portable_scenario() {
  rxl() { /lab/rxl --backend kvm "$@"; }
  say "RUN-START portable"
  say "PORTABLE-CFG sha256=$(sha256sum /lab/portable/devices.cfg | cut -d' ' -f1)"
  ip addr del 10.99.0.1/24 dev br0
  brctl addbr xenbr0 && ip addr add 10.99.0.1/24 dev xenbr0 && ip link set xenbr0 up \
    || say "PORTABLE-NO-XENBR0"
  if rxl create /lab/portable/devices.cfg > /tmp/portable.create 2>&1; then
    say "PORTABLE-CREATED"
    id=$(rxl domid portable)
    # Follow the console from its open fd: the file is removed with the domain.
    tail -f "/run/rxl/kvm/$id.console" > /tmp/portable.log 2>/dev/null &
    tailpid=$!
    gone=0
    for _ in $(seq 300); do
      rxl domid portable > /dev/null 2>&1 || { gone=1; break; }
      sleep 1
    done
    sleep 1; kill "$tailpid" 2>/dev/null
    [ $gone = 1 ] && say "PORTABLE-GONE" || { say "PORTABLE-STILL-THERE"; rxl destroy portable; rc=1; }
    # init's own lines (their kernel-log copies carry a timestamp)
    grep '^PORTABLE-' /tmp/portable.log | tr -d '\r' | sed 's/^/KVMLAB-GUEST /'
  else
    say "PORTABLE-CREATE-FAILED"; rc=1
  fi
  sed 's/^/PORTABLE-CREATE-OUT /' /tmp/portable.create
  ip link set xenbr0 down; brctl delbr xenbr0
  ip addr add 10.99.0.1/24 dev br0
  say "RUN-END portable"
}
portable_scenario
