# Sourced by l1-init.sh (uses its say and rc): `rxl --backend kvm reboot` and `shutdown -w` of
# a Linux guest, which reach it through the ACPI power button. `rxl create` boots the Debian
# guest with rxl.end=button: its init waits for a KEY_POWER event from the ACPI button driver,
# marks L2-POWER-BUTTON and powers off. `reboot` must end the first boot as a reboot
# (on_reboot=restart: the same domain boots again), `shutdown -w` the second as a power-off
# (on_poweroff=destroy: the command returns once the domain is gone).
button_scenario() {
  cat > /tmp/button.cfg <<CFG
name = "lab-button"
type = "pvh"
memory = 256
vcpus = 1
kernel = "/lab/vmlinuz"
ramdisk = "/lab/l2.cpio.gz"
extra = "console=ttyS0 panic=-1 $(cat /lab/append) rxl.end=button"
disk = [ "/lab/disk.img,raw,xvda,ro" ]
vif = [ "bridge=br0" ]
on_poweroff = "destroy"
on_reboot = "restart"
CFG
  rxl() { /lab/rxl --backend kvm "$@"; }
  say "RUN-START button"
  rxl create /tmp/button.cfg || { say "BUTTON-CREATE-FAILED"; rc=1; return; }
  id=$(rxl domid lab-button)
  # Follow the console from its open fd: the file is removed with the domain.
  tail -f "/run/rxl/kvm/$id.console" > /tmp/button.log 2>/dev/null &
  tailpid=$!
  waiting() { # $1 = how many boots must have reached the wait
    for _ in $(seq 300); do
      # Init's own line (the kernel-log copy of each marker is timestamped).
      [ "$(grep -c '^L2-WAITING-BUTTON' /tmp/button.log)" -ge "$1" ] && return 0
      sleep 1
    done
    return 1
  }
  if waiting 1 && rxl reboot lab-button && waiting 2 && [ "$(rxl domid lab-button)" = "$id" ]; then
    say "BUTTON-REBOOT-OK (domain $id booted again)"
  else
    say "BUTTON-REBOOT-BAD"; rc=1
  fi
  if rxl shutdown -w lab-button && ! rxl list | grep -q lab-button; then
    say "BUTTON-SHUTDOWN-OK"
  else
    say "BUTTON-SHUTDOWN-BAD"; rc=1; rxl destroy lab-button
  fi
  sleep 1; kill "$tailpid" 2>/dev/null
  sed 's/^/BUTTON-CONSOLE /' /tmp/button.log
  say "BUTTON-PRESSES-SEEN $(grep -c '^L2-POWER-BUTTON' /tmp/button.log)"
  say "RUN-END button"
}
button_scenario
