//! The device model: legacy PC ports (COM1, i8042, power-off, the ACPI power button's event
//! port) and virtio-mmio windows, and the
//! dispatch of vCPU port-I/O and MMIO exits to them.

pub mod i8042;
pub mod power_button;
pub mod serial;
pub mod shutdown;
pub mod virtio;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::arch::x86_64::layout::{
    COM1_PORT, GED_PORT, I8042_CMD_PORT, I8042_DATA_PORT, SHUTDOWN_PORT, VIRTIO_MMIO_BASE,
    VIRTIO_MMIO_SIZE,
};
use crate::runstate::{RunControl, RunState};
use i8042::{I8042, ResetLine};
use power_button::PowerButton;
use serial::SerialConsole;
use virtio::mmio::MmioTransport;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Device state stays usable after a panicking holder: every register write is atomic
    // with respect to the lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// All devices of one VM.
pub struct Devices {
    /// COM1.
    pub serial: Mutex<SerialConsole>,
    i8042: Mutex<I8042>,
    power_button: PowerButton,
    virtio: Vec<Mutex<MmioTransport>>,
    control: Arc<RunControl>,
}

impl Devices {
    /// Builds the bus; `virtio[i]` answers at `VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SIZE`.
    pub fn new(
        serial: SerialConsole,
        power_button: PowerButton,
        virtio: Vec<MmioTransport>,
        control: Arc<RunControl>,
    ) -> Self {
        Devices {
            serial: Mutex::new(serial),
            i8042: Mutex::new(I8042::new(ResetLine(control.clone()))),
            power_button,
            virtio: virtio.into_iter().map(Mutex::new).collect(),
            control,
        }
    }

    /// The ACPI power button (`shutdown` and `reboot` press it).
    pub fn power_button(&self) -> &PowerButton {
        &self.power_button
    }

    /// The virtio transport at slot `i` (tests inspect its status).
    pub fn virtio(&self, i: usize) -> Option<MutexGuard<'_, MmioTransport>> {
        self.virtio.get(i).map(lock)
    }

    /// A guest `in`; returns false if no device owns `port` (data is then all ones, as on a
    /// PC with nothing decoding the address).
    pub fn pio_read(&self, port: u16, data: &mut [u8]) -> bool {
        data.fill(0xff);
        match port {
            p if (COM1_PORT..COM1_PORT + 8).contains(&p) && data.len() == 1 => {
                data[0] = lock(&self.serial).read((p - COM1_PORT) as u8);
            }
            I8042_DATA_PORT | I8042_CMD_PORT if data.len() == 1 => {
                data[0] = lock(&self.i8042).read((port - I8042_DATA_PORT) as u8);
            }
            GED_PORT if data.len() == 1 => data[0] = self.power_button.read_status(),
            _ => return false,
        }
        true
    }

    /// A guest `out`; returns false if no device owns `port`.
    pub fn pio_write(&self, port: u16, data: &[u8]) -> bool {
        match (port, data) {
            (p, [v]) if (COM1_PORT..COM1_PORT + 8).contains(&p) => {
                lock(&self.serial).write((p - COM1_PORT) as u8, *v);
            }
            (I8042_DATA_PORT | I8042_CMD_PORT, [v]) => {
                // ResetLine::trigger is infallible.
                let _ = lock(&self.i8042).write((port - I8042_DATA_PORT) as u8, *v);
            }
            (SHUTDOWN_PORT, [v]) => {
                shutdown::write(&self.control, *v, self.power_button.reboot_requested());
            }
            _ => return false,
        }
        true
    }

    fn virtio_slot(&self, addr: u64) -> Option<(usize, u64)> {
        let off = addr.checked_sub(VIRTIO_MMIO_BASE)?;
        let slot = (off / VIRTIO_MMIO_SIZE) as usize;
        (slot < self.virtio.len()).then_some((slot, off % VIRTIO_MMIO_SIZE))
    }

    /// Runs the network I/O loop until `control` says the VM is stopping: waits for frames on
    /// every NIC's tap and moves them into the guest (TX happens on the vCPU that notifies).
    pub fn net_io_loop(&self) {
        const TICK_MS: i32 = 20;
        let mut fds = Vec::new();
        loop {
            if matches!(self.control.state(), RunState::Stopping(_)) {
                return;
            }
            fds.clear();
            for (slot, t) in self.virtio.iter().enumerate() {
                if let Some(fd) = lock(t).net_rx_fd() {
                    fds.push((
                        slot,
                        libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        },
                    ));
                }
            }
            let mut pfds: Vec<libc::pollfd> = fds.iter().map(|f| f.1).collect();
            // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs for the call;
            // with no fds this is a plain sleep, which is how RX starvation is waited out
            // (a guest notify clears it within one tick).
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, TICK_MS) };
            if n <= 0 {
                continue;
            }
            for (p, (slot, _)) in pfds.iter().zip(&fds) {
                if p.revents & libc::POLLIN != 0 {
                    lock(&self.virtio[*slot]).net_rx();
                }
            }
        }
    }

    /// Whether any virtio device is a NIC (then the VMM runs [`Devices::net_io_loop`]).
    pub fn has_net(&self) -> bool {
        self.virtio.iter().any(|t| lock(t).is_net())
    }

    /// A guest MMIO read; returns false if no device owns `addr`.
    pub fn mmio_read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.virtio_slot(addr) {
            Some((slot, off)) => {
                lock(&self.virtio[slot]).read(off, data);
                true
            }
            None => {
                data.fill(0xff);
                false
            }
        }
    }

    /// A guest MMIO write; returns false if no device owns `addr`.
    pub fn mmio_write(&self, addr: u64, data: &[u8]) -> bool {
        match self.virtio_slot(addr) {
            Some((slot, off)) => {
                lock(&self.virtio[slot]).write(off, data);
                true
            }
            None => false,
        }
    }
}
