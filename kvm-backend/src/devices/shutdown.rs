//! The power-off port (0x600). Writing the ACPI S5 sleep value (SLP_TYP=5 | SLP_EN = 0x34)
//! powers the VM off — the same register Cloud Hypervisor's ACPI tables describe, so a guest
//! reaches it either through ACPI or, like our test kernels, with a plain `out`.

use crate::arch::x86_64::layout::SHUTDOWN_S5;
use crate::runstate::{ExitReason, RunControl};

/// Handles a byte written to the shutdown port; other values are ignored (S1-S4 are not
/// supported and a guest retries S5 when sleep fails). With `as_reboot` (the toolstack asked for
/// a reboot through the power button) S5 ends the boot as a reboot.
pub fn write(control: &RunControl, value: u8, as_reboot: bool) {
    if value == SHUTDOWN_S5 {
        control.request_exit(if as_reboot {
            ExitReason::Reboot
        } else {
            ExitReason::Poweroff
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runstate::RunState;

    #[test]
    fn only_s5_powers_off() {
        let c = RunControl::default();
        write(&c, 0x14, false);
        assert_eq!(c.state(), RunState::Running);
        write(&c, SHUTDOWN_S5, false);
        assert_eq!(c.wait_exit(), ExitReason::Poweroff);
    }

    #[test]
    fn s5_after_a_reboot_press_is_a_reboot() {
        let c = RunControl::default();
        write(&c, SHUTDOWN_S5, true);
        assert_eq!(c.wait_exit(), ExitReason::Reboot);
    }
}
