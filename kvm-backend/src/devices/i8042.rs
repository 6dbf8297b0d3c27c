//! The i8042 keyboard controller, reduced to what a micro-VM needs: the CPU-reset command
//! (0xFE on port 0x64), which Linux uses for `reboot=k` and our guests use to reboot.

use std::sync::Arc;

use vm_superio::{I8042Device, Trigger};

use crate::runstate::{ExitReason, RunControl};

/// Turns the reset line into a reboot request.
#[derive(Debug)]
pub struct ResetLine(pub Arc<RunControl>);

impl Trigger for ResetLine {
    type E = std::convert::Infallible;
    fn trigger(&self) -> Result<(), Self::E> {
        self.0.request_exit(ExitReason::Reboot);
        Ok(())
    }
}

/// The controller at ports 0x60 (data) and 0x64 (command/status).
pub type I8042 = I8042Device<ResetLine>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_command_requests_reboot() {
        let ctl = Arc::new(RunControl::default());
        let mut dev = I8042::new(ResetLine(ctl.clone()));
        dev.write(4, 0xAA).unwrap();
        assert_eq!(ctl.state(), crate::runstate::RunState::Running);
        dev.write(4, 0xFE).unwrap();
        assert_eq!(ctl.wait_exit(), ExitReason::Reboot);
    }
}
