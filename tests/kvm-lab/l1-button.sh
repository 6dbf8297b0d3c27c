# Sourced by l1-init.sh (uses its say and rc): the toolstack's shutdown and reboot of a Linux
# guest through the ACPI power button. A managed rxl-kvm (started as `rxl create` does, by
# lab-ctl) boots the Debian guest with rxl.end=button: its init waits for a KEY_POWER event
# from the ACPI button driver, marks L2-POWER-BUTTON and powers off. `reboot` must end the
# first boot as a reboot (on_reboot=restart boots it again), `shutdown` the second as a
# power-off (on_poweroff=destroy: the VMM exits and the domain is gone).
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
  say "RUN-START button"
  id=$(/lab/lab-ctl create /tmp/button.cfg) || { say "BUTTON-CREATE-FAILED"; rc=1; return; }
  con=/run/rxl/kvm/$id.console
  # Follow the console from its open fd: the file is removed with the domain.
  tail -f "$con" > /tmp/button.log 2>/dev/null &
  tailpid=$!
  waiting() { # $1 = how many boots must have reached the wait
    for _ in $(seq 300); do
      # Init's own line (the kernel-log copy of each marker is timestamped).
      [ "$(grep -c '^L2-WAITING-BUTTON' /tmp/button.log)" -ge "$1" ] && return 0
      sleep 1
    done
    return 1
  }
  if waiting 1 && /lab/lab-ctl send "$id" reboot && waiting 2; then
    b=$(/lab/lab-ctl boots "$id")
    [ "$b" = "2 reboot" ] && say "BUTTON-REBOOT-OK ($b)" || { say "BUTTON-REBOOT-BAD ($b)"; rc=1; }
  else
    say "BUTTON-REBOOT-BAD (no second boot)"; rc=1
  fi
  if /lab/lab-ctl send "$id" shutdown && /lab/lab-ctl wait-gone "$id" 120; then
    say "BUTTON-SHUTDOWN-OK"
  else
    say "BUTTON-SHUTDOWN-BAD"; rc=1; /lab/lab-ctl send "$id" destroy
  fi
  sleep 1; kill "$tailpid" 2>/dev/null
  sed 's/^/BUTTON-CONSOLE /' /tmp/button.log
  say "BUTTON-PRESSES-SEEN $(grep -c '^L2-POWER-BUTTON' /tmp/button.log)"
  say "RUN-END button"
}
button_scenario
