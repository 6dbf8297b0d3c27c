//! COM1: vm-superio's 16550A, its output going to the VMM's console writer, its interrupt
//! line an eventfd KVM injects as IRQ 4 (irqfd), and host input queued into its receive FIFO.

use std::io::Write;

use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

/// An interrupt line backed by an irqfd-registered eventfd.
#[derive(Debug)]
pub struct IrqLine(pub EventFd);

impl Trigger for IrqLine {
    type E = std::io::Error;
    fn trigger(&self) -> Result<(), Self::E> {
        self.0.write(1)
    }
}

/// Where the guest console goes: any `Write + Send` (stdout, a log file, a test buffer).
pub type ConsoleOut = Box<dyn Write + Send>;

/// The COM1 UART.
pub struct SerialConsole {
    uart: Serial<IrqLine, vm_superio::serial::NoEvents, ConsoleOut>,
}

impl SerialConsole {
    /// A UART raising `irq` and writing transmitted bytes to `out`.
    pub fn new(irq: EventFd, out: ConsoleOut) -> Self {
        SerialConsole {
            uart: Serial::new(IrqLine(irq), out),
        }
    }

    /// A guest `in` from register `offset`.
    pub fn read(&mut self, offset: u8) -> u8 {
        self.uart.read(offset)
    }

    /// A guest `out` to register `offset`. Transmitted bytes are flushed at line ends so the
    /// console stays readable even if the VMM is killed.
    pub fn write(&mut self, offset: u8, value: u8) {
        // A failed write means the console sink went away (closed pipe); the guest must keep
        // running regardless, exactly as a UART with no cable attached.
        let _ = self.uart.write(offset, value);
        if offset == 0 && value == b'\n' {
            let _ = self.uart.writer_mut().flush();
        }
    }

    /// Queues host input for the guest; returns how many bytes fit in the FIFO.
    pub fn enqueue_input(&mut self, bytes: &[u8]) -> usize {
        self.uart.enqueue_raw_bytes(bytes).unwrap_or(0)
    }

    /// Flushes buffered console output.
    pub fn flush(&mut self) {
        let _ = self.uart.writer_mut().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn transmitted_bytes_reach_the_console() {
        let buf = Buf::default();
        let mut s = SerialConsole::new(EventFd::new(0).unwrap(), Box::new(buf.clone()));
        for b in b"hi\n" {
            s.write(0, *b);
        }
        assert_eq!(&*buf.0.lock().unwrap(), b"hi\n");
        // LSR: transmitter empty bits set.
        assert_eq!(s.read(5) & 0x60, 0x60);
    }
}
