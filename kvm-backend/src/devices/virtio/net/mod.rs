//! virtio-net on a tap: TX on the guest's notification, RX when the tap has a frame and the
//! guest has posted a buffer (the VMM's I/O thread calls [`Net::rx_ready`]). No offloads are
//! negotiated, so frames cross unchanged with their 12-byte virtio-net header.

pub mod netlink;
pub mod tap;

use std::os::fd::{AsRawFd, RawFd};

use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{VirtioDevice, read_config_bytes};
use tap::{Tap, VNET_HDR_LEN};

/// virtio device id of a network card.
pub const DEVICE_ID: u32 = 1;
const VIRTIO_NET_F_MAC: u64 = 1 << 5;
const QUEUE_SIZE: u16 = 256;
const RX: usize = 0;
const TX: usize = 1;
/// Largest frame plus header the tap can return (64 KiB GSO frames are never negotiated,
/// but the buffer must hold whatever the tap hands over).
const MAX_FRAME: usize = 65562;

/// One virtio-net device.
pub struct Net {
    tap: Tap,
    config: [u8; 6],
    queue_sizes: [u16; 2],
    frame: Vec<u8>,
    /// The guest had no RX buffer when a frame was waiting; RX resumes on its next notify.
    starved: bool,
}

fn chain_regions(
    chain: impl Iterator<Item = virtio_queue::desc::split::Descriptor>,
) -> Vec<(GuestAddress, u32, bool)> {
    chain
        .map(|d| (d.addr(), d.len(), d.is_write_only()))
        .collect()
}

impl Net {
    /// A NIC with `mac` on `tap`.
    pub fn new(tap: Tap, mac: [u8; 6]) -> Net {
        Net {
            tap,
            config: mac,
            queue_sizes: [QUEUE_SIZE; 2],
            frame: vec![0; MAX_FRAME],
            starved: false,
        }
    }

    /// The tap's interface name.
    pub fn tap_name(&self) -> &str {
        self.tap.name()
    }

    /// The fd the I/O thread waits on, unless RX is starved for buffers.
    pub fn rx_fd(&self) -> Option<RawFd> {
        (!self.starved).then(|| self.tap.as_raw_fd())
    }

    /// Moves frames from the tap into the guest's RX buffers while both exist; returns true
    /// if any was delivered (interrupt the guest).
    pub fn rx_ready(&mut self, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let mut delivered = false;
        loop {
            let Some(chain) = queue.iter(mem).ok().and_then(|mut it| it.next()) else {
                self.starved = true;
                break;
            };
            let head = chain.head_index();
            let regions = chain_regions(chain);
            let n = match self.tap.read_frame(&mut self.frame) {
                Ok(n) => n,
                Err(_) => {
                    // Nothing queued (WouldBlock) or the tap went down: hand the buffer back
                    // unused; the I/O thread calls again when the tap is readable.
                    queue.go_to_previous_position();
                    self.starved = false;
                    break;
                }
            };
            // virtio 1.x: num_buffers (bytes 10-11) must say how many buffers the frame used.
            if n >= VNET_HDR_LEN {
                self.frame[10..12].copy_from_slice(&1u16.to_le_bytes());
            }
            let mut done = 0usize;
            for (addr, len, writable) in regions {
                if !writable || done == n {
                    continue;
                }
                let take = (len as usize).min(n - done);
                if mem
                    .write_slice(&self.frame[done..done + take], addr)
                    .is_err()
                {
                    break;
                }
                done += take;
            }
            // A frame bigger than the posted buffer is truncated, as a NIC would drop it.
            if queue.add_used(mem, head, done as u32).is_ok() {
                delivered = true;
            }
        }
        delivered
    }

    fn tx(&mut self, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let mut used = false;
        while let Some(chain) = queue.iter(mem).ok().and_then(|mut it| it.next()) {
            let head = chain.head_index();
            let mut len = 0usize;
            for (addr, dlen, writable) in chain_regions(chain) {
                let dlen = dlen as usize;
                if writable || len + dlen > self.frame.len() {
                    continue;
                }
                if mem
                    .read_slice(&mut self.frame[len..len + dlen], addr)
                    .is_ok()
                {
                    len += dlen;
                }
            }
            // A frame the tap refuses (interface down, queue full) is dropped, as on a wire.
            let _ = self.tap.write_frame(&self.frame[..len]);
            if queue.add_used(mem, head, 0).is_ok() {
                used = true;
            }
        }
        used
    }
}

impl VirtioDevice for Net {
    fn device_type(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        VIRTIO_NET_F_MAC
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &self.queue_sizes
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        read_config_bytes(&self.config, offset, data);
    }

    fn process_queue(&mut self, index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let used = match index {
            TX => self.tx(queue, mem),
            // New RX buffers: deliver what waited for them and resume polling the tap.
            RX => {
                self.starved = false;
                self.rx_ready(queue, mem)
            }
            _ => false,
        };
        used && queue.needs_notification(mem).unwrap_or(true)
    }

    fn as_net(&mut self) -> Option<&mut Net> {
        Some(self)
    }
}

/// A stable locally administered MAC for NIC `index` of domain `name` (52:54:00 like QEMU).
pub fn default_mac(name: &str, index: usize) -> [u8; 6] {
    // FNV-1a: deterministic across runs and hosts, so a guest keeps its MAC.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes().chain([index as u8]) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let b = h.to_be_bytes();
    [0x52, 0x54, 0x00, b[1], b[2], b[3]]
}
