//! KVM's in-kernel i8254 PIT, switched to "discard" mode on a thread of its own.
//!
//! KVM creates the PIT in reinject mode, for guests that keep time by counting PIT ticks (old
//! Linux with the jiffies clocksource, Windows before Vista): a tick the guest has not
//! acknowledged yet is queued and injected later. Modern Linux keeps time with kvm-clock or
//! the TSC and never counts PIT ticks (the KVM lab checks the guest's clocksource), and the
//! tiny guests don't use the PIT at all, so this VMM drops late ticks instead, as QEMU does
//! with `-global kvm-pit.lost_tick_policy=discard` (`KVM_REINJECT_CONTROL`, pit_reinject=0).
//!
//! Why it matters here: reinject mode hangs an IRQ ack notifier and a mask notifier on the VM,
//! and unhooking them (on `KVM_REINJECT_CONTROL`, or else when the VM is destroyed) waits
//! twice for an SRCU grace period of `kvm->irq_srcu`. The second wait starts right after the
//! first and SRCU then runs a normal, tick-paced grace period instead of an expedited one:
//! 13-20 ms on this project's hosts (HZ=250). At teardown nothing else can happen meanwhile;
//! done right after the PIT is created, on its own thread, the wait overlaps with building
//! the rest of the VM and with the guest's run. The thread is joined before the VM fd closes.
//!
//! SRCU makes the second wait expedited (~0.1 ms) only when it starts more than 25 µs
//! (`srcutree.exp_holdoff`) after the first grace period ended. The first one's end is
//! signalled from the CPU that runs a small `srcu_struct`'s callbacks, the boot CPU (CPU 0 on
//! x86); a waiter on that same CPU is woken within a few µs and so always gets the slow
//! second wait, a waiter on another CPU usually later than 25 µs. So the thread keeps off
//! CPU 0 when it may run elsewhere: on this project's hosts that cut the 90th percentile of
//! the VM's kernel-side life from 23.6 to 14.2 ms (`kvm-backend/bench/vm-lifecycle.c`, orders
//! `ipTfvwwwmJ` vs `ipUfvwwwmJ`; docs/performance.md "KVM"). A heuristic, not a guarantee:
//! a slow second wait still overlaps with the guest's run.

use std::os::fd::{AsRawFd, RawFd};
use std::thread::{self, JoinHandle};

use kvm_bindings::{KVM_PIT_SPEAKER_DUMMY, KVMIO, kvm_pit_config, kvm_reinject_control};
use kvm_ioctls::VmFd;
use vmm_sys_util::errno;
use vmm_sys_util::ioctl::ioctl_with_ref;

/// Ioctls kvm-ioctls has no wrapper for; numbers as in linux/kvm.h.
mod nr {
    use super::KVMIO;
    vmm_sys_util::ioctl_io_nr!(KVM_REINJECT_CONTROL, KVMIO, 0x71);
}

/// The VM's PIT. Dropping it waits for the switch to discard mode, so drop it before the VM fd.
pub struct Pit {
    discard: Option<JoinHandle<()>>,
}

impl Pit {
    /// Creates the PIT of `fd` (which must have an irqchip) and starts switching it to discard
    /// mode. The PC speaker port (0x61) is emulated as a dummy, so guests that calibrate
    /// against the PIT through it don't exit to the VMM.
    pub fn create(fd: &VmFd) -> Result<Pit, kvm_ioctls::Error> {
        let config = kvm_pit_config {
            flags: KVM_PIT_SPEAKER_DUMMY,
            ..Default::default()
        };
        fd.create_pit2(config)?;
        let raw = fd.as_raw_fd();
        let spawned = thread::Builder::new()
            .name("pit-discard".into())
            .spawn(move || {
                keep_off_boot_cpu();
                discard_lost_ticks(raw);
            });
        let discard = match spawned {
            Ok(handle) => Some(handle),
            // No thread: switch here, only slower.
            Err(_) => {
                discard_lost_ticks(raw);
                None
            }
        };
        Ok(Pit { discard })
    }
}

impl Drop for Pit {
    fn drop(&mut self) {
        if let Some(handle) = self.discard.take() {
            // The thread only makes one ioctl; it does not panic.
            let _ = handle.join();
        }
    }
}

/// Moves the calling thread off CPU 0 if its affinity allows another CPU (see the module doc).
fn keep_off_boot_cpu() {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; sched_getaffinity(2) writes at most
    // `size` bytes into `set`, which is that big, and sched_setaffinity(2) on the calling
    // thread only reads it; the CPU_* helpers index within the set (CPU 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut set) != 0 || !libc::CPU_ISSET(0, &set) {
            return;
        }
        libc::CPU_CLR(0, &mut set);
        if libc::CPU_COUNT(&set) > 0 {
            libc::sched_setaffinity(0, size, &set);
        }
    }
}

/// `KVM_REINJECT_CONTROL` with pit_reinject=0 on the VM fd `raw`. A failure is only reported:
/// the PIT then stays in KVM's default reinject mode, which works, and costs its wait at
/// teardown instead.
fn discard_lost_ticks(raw: RawFd) {
    let control = kvm_reinject_control {
        pit_reinject: 0,
        ..Default::default()
    };
    // SAFETY: KVM_REINJECT_CONTROL only reads a `struct kvm_reinject_control`, which `control`
    // is, from the pointer. `raw` is the VM fd, kept open until this thread is joined (the
    // `Pit` is dropped before the `VmFd`, see `Vm`).
    let rc = unsafe { ioctl_with_ref(&RawFdRef(raw), nr::KVM_REINJECT_CONTROL(), &control) };
    if rc < 0 {
        eprintln!(
            "rxl-kvm: warning: KVM_REINJECT_CONTROL failed ({}); the PIT keeps reinjecting lost ticks",
            errno::Error::last()
        );
    }
}

/// A borrowed raw fd for vmm-sys-util's ioctl helpers.
struct RawFdRef(RawFd);

impl AsRawFd for RawFdRef {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}
