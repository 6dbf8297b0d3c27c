//! The ACPI power button, as a hardware-reduced platform has it: a Generic Event Device
//! (`ACPI0013`) whose interrupt makes the guest run the DSDT's `_EVT` method, which reads the
//! pending events from [`GED_PORT`] and notifies the `PNP0C0C` power button device (the same
//! scheme as Cloud Hypervisor's GED and QEMU microvm's). Linux's button driver turns the
//! notification into a KEY_POWER input event; systemd-logind or acpid then shut the guest
//! down cleanly, ending with the S5 write to the power-off port.
//!
//! `reboot` has no ACPI button: like libvirt's reboot of a QEMU guest, it presses the power
//! button and reports the guest's next power-off as a reboot, so `on_reboot` applies.
//!
//! [`GED_PORT`]: crate::arch::x86_64::layout::GED_PORT

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use vmm_sys_util::eventfd::EventFd;

/// The event bit `_EVT` tests for a power-button press.
pub const EVENT_POWER_BUTTON: u8 = 1;

/// The GED with its one event source.
pub struct PowerButton {
    irq: EventFd,
    pending: AtomicU8,
    reboot: AtomicBool,
}

impl PowerButton {
    /// A button that raises `irq` (an irqfd on the GED's GSI) when pressed.
    pub fn new(irq: EventFd) -> Self {
        PowerButton {
            irq,
            pending: AtomicU8::new(0),
            reboot: AtomicBool::new(false),
        }
    }

    /// Presses the button; with `reboot`, the guest's coming power-off counts as a reboot.
    /// The latest press decides: `shutdown` after `reboot` powers off.
    pub fn press(&self, reboot: bool) -> std::io::Result<()> {
        self.reboot.store(reboot, Ordering::SeqCst);
        self.pending.fetch_or(EVENT_POWER_BUTTON, Ordering::SeqCst);
        self.irq.write(1)
    }

    /// The guest's read of the status port: the pending events, which it thereby acknowledges.
    pub fn read_status(&self) -> u8 {
        self.pending.swap(0, Ordering::SeqCst)
    }

    /// Whether a `reboot` press is outstanding (a power-off is then reported as a reboot).
    pub fn reboot_requested(&self) -> bool {
        self.reboot.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn press_raises_the_line_and_status_reads_clear() {
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let b = PowerButton::new(irq.try_clone().unwrap());
        assert_eq!(b.read_status(), 0);
        b.press(false).unwrap();
        assert_eq!(irq.read().unwrap(), 1);
        assert!(!b.reboot_requested());
        assert_eq!(b.read_status(), EVENT_POWER_BUTTON);
        assert_eq!(b.read_status(), 0);
        b.press(true).unwrap();
        assert!(b.reboot_requested());
        b.press(false).unwrap();
        assert!(!b.reboot_requested());
    }
}
