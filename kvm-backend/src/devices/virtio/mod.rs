//! virtio devices on the virtio-mmio transport. Split virtqueues come from the virtio-queue
//! crate; the transport registers and the devices are ours (rust-vmm ships no device crate).

pub mod blk;
pub mod mmio;
pub mod net;

use virtio_queue::Queue;
use vm_memory::GuestMemoryMmap;

/// `VIRTIO_F_VERSION_1`: the device is virtio 1.x (modern). Bit 32.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// Device status bits the transport checks.
pub mod status {
    /// The guest saw the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The guest has a driver for it.
    pub const DRIVER: u32 = 2;
    /// The driver is ready; queues may be used.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation finished.
    pub const FEATURES_OK: u32 = 8;
    /// The device hit an error it cannot recover from.
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    /// The guest gave up on the device.
    pub const FAILED: u32 = 128;
}

/// A device behind a virtio-mmio window.
pub trait VirtioDevice: Send {
    /// The virtio device id (2 = block, 1 = net).
    fn device_type(&self) -> u32;
    /// Offered feature bits.
    fn features(&self) -> u64;
    /// Maximum size of each queue; the length is the number of queues.
    fn queue_max_sizes(&self) -> &[u16];
    /// Reads `data.len()` bytes of device config space at `offset`.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Handles the driver's notification for queue `index`; returns true when used buffers
    /// were added and the guest should be interrupted.
    fn process_queue(&mut self, index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool;
    /// The network device behind this transport, if it is one (the I/O thread polls its tap).
    fn as_net(&mut self) -> Option<&mut net::Net> {
        None
    }
}

/// Copies the part of `config` starting at `offset` into `data` (zeros past the end), the
/// config-space read every device shares.
pub fn read_config_bytes(config: &[u8], offset: u64, data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b = usize::try_from(offset)
            .ok()
            .and_then(|o| config.get(o + i))
            .copied()
            .unwrap_or(0);
    }
}
