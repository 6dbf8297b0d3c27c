//! The virtio-mmio transport (virtio 1.x, register layout version 2): feature negotiation,
//! queue setup, notification and interrupt status for one device in a 4 KiB window.

use std::sync::Arc;

use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

use super::{VIRTIO_F_VERSION_1, VirtioDevice, status};

const MAGIC: u32 = 0x7472_6976; // "virt"
const VERSION: u32 = 2;
const VENDOR: u32 = 0x554d_4551; // the id QEMU and others use; guests don't check it
const INT_USED_RING: u32 = 1;

/// Register offsets inside the window.
mod reg {
    pub const MAGIC: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// One virtio device and its transport state.
pub struct MmioTransport {
    device: Box<dyn VirtioDevice>,
    mem: Arc<GuestMemoryMmap>,
    irq: EventFd,
    queues: Vec<Queue>,
    queue_sel: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    acked_features: u64,
    status: u32,
    interrupt_status: u32,
}

impl MmioTransport {
    /// Wraps `device`; `irq` is the irqfd of its interrupt line.
    pub fn new(device: Box<dyn VirtioDevice>, mem: Arc<GuestMemoryMmap>, irq: EventFd) -> Self {
        let queues = device
            .queue_max_sizes()
            .iter()
            .filter_map(|&max| Queue::new(max).ok())
            .collect();
        MmioTransport {
            device,
            mem,
            irq,
            queues,
            queue_sel: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            acked_features: 0,
            status: 0,
            interrupt_status: 0,
        }
    }

    /// The device's status register (tests and `info` show it).
    pub fn status(&self) -> u32 {
        self.status
    }

    fn features(&self) -> u64 {
        self.device.features() | VIRTIO_F_VERSION_1
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    fn reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.queue_sel = 0;
        self.acked_features = 0;
        self.status = 0;
        self.interrupt_status = 0;
    }

    /// A guest read of `data.len()` bytes at `offset` in the window.
    pub fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= reg::CONFIG {
            self.device.read_config(offset - reg::CONFIG, data);
            return;
        }
        if data.len() != 4 {
            data.fill(0);
            return;
        }
        let v: u32 = match offset {
            reg::MAGIC => MAGIC,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => self.device.device_type(),
            reg::VENDOR_ID => VENDOR,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => self.features() as u32,
                1 => (self.features() >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| u32::from(q.max_size())),
            reg::QUEUE_READY => self.selected_queue().map_or(0, |q| u32::from(q.ready())),
            reg::INTERRUPT_STATUS => self.interrupt_status,
            reg::STATUS => self.status,
            reg::CONFIG_GENERATION => 0,
            _ => 0,
        };
        data.copy_from_slice(&v.to_le_bytes());
    }

    /// A guest write of `data` at `offset` in the window.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if offset >= reg::CONFIG || data.len() != 4 {
            // Config space of our devices is read-only; narrow writes to registers are invalid.
            return;
        }
        let v = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let queue_setup_allowed = self.status & status::DRIVER_OK == 0;
        match offset {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = v,
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            reg::DRIVER_FEATURES => {
                let shift = match self.driver_features_sel {
                    0 => 0,
                    1 => 32,
                    _ => return,
                };
                // A driver may only accept what was offered.
                let offered = self.features();
                self.acked_features = (self.acked_features & !(0xffff_ffffu64 << shift))
                    | ((u64::from(v) << shift) & offered);
            }
            reg::QUEUE_SEL => self.queue_sel = v,
            reg::QUEUE_NUM if queue_setup_allowed => {
                if let Some(q) = self.selected_queue() {
                    q.set_size(v as u16);
                }
            }
            reg::QUEUE_READY if queue_setup_allowed => {
                if let Some(q) = self.selected_queue() {
                    q.set_ready(v == 1);
                }
            }
            reg::QUEUE_DESC_LOW | reg::QUEUE_DESC_HIGH if queue_setup_allowed => {
                let high = offset == reg::QUEUE_DESC_HIGH;
                if let Some(q) = self.selected_queue() {
                    q.set_desc_table_address((!high).then_some(v), high.then_some(v));
                }
            }
            reg::QUEUE_DRIVER_LOW | reg::QUEUE_DRIVER_HIGH if queue_setup_allowed => {
                let high = offset == reg::QUEUE_DRIVER_HIGH;
                if let Some(q) = self.selected_queue() {
                    q.set_avail_ring_address((!high).then_some(v), high.then_some(v));
                }
            }
            reg::QUEUE_DEVICE_LOW | reg::QUEUE_DEVICE_HIGH if queue_setup_allowed => {
                let high = offset == reg::QUEUE_DEVICE_HIGH;
                if let Some(q) = self.selected_queue() {
                    q.set_used_ring_address((!high).then_some(v), high.then_some(v));
                }
            }
            reg::QUEUE_NOTIFY => self.notify(v as usize),
            reg::INTERRUPT_ACK => self.interrupt_status &= !v,
            reg::STATUS => {
                if v == 0 {
                    self.reset();
                } else if v & status::FEATURES_OK != 0
                    && self.acked_features & VIRTIO_F_VERSION_1 == 0
                {
                    // Legacy drivers are not supported: refuse FEATURES_OK so the guest
                    // sees negotiation fail instead of misreading the queues.
                    self.status = v & !status::FEATURES_OK;
                } else {
                    self.status = v;
                }
            }
            _ => {}
        }
    }

    /// Whether the device is a NIC.
    pub fn is_net(&mut self) -> bool {
        self.device.as_net().is_some()
    }

    /// The tap fd to wait on for guest-bound frames, if this is a NIC ready to receive.
    pub fn net_rx_fd(&mut self) -> Option<std::os::fd::RawFd> {
        if self.status & status::DRIVER_OK == 0 {
            return None;
        }
        self.device.as_net().and_then(|n| n.rx_fd())
    }

    /// The NIC's tap is readable: deliver frames into the RX queue and interrupt the guest.
    pub fn net_rx(&mut self) {
        if self.status & status::DRIVER_OK == 0 {
            return;
        }
        let (Some(net), Some(queue)) = (self.device.as_net(), self.queues.first_mut()) else {
            return;
        };
        if net.rx_ready(queue, &self.mem) && queue.needs_notification(&*self.mem).unwrap_or(true) {
            self.raise();
        }
    }

    fn raise(&mut self) {
        self.interrupt_status |= INT_USED_RING;
        // An eventfd write only fails if the counter would overflow, i.e. the guest
        // already has an interrupt pending; nothing is lost.
        let _ = self.irq.write(1);
    }

    fn notify(&mut self, index: usize) {
        if self.status & status::DRIVER_OK == 0 {
            return;
        }
        let Some(queue) = self.queues.get_mut(index) else {
            return;
        };
        if !queue.ready() {
            return;
        }
        if self.device.process_queue(index, queue, &self.mem) {
            self.raise();
        }
    }
}
