//! Assembles one VM — KVM objects, devices, kernel — and runs it to a stop reason.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

use crate::arch::x86_64::acpi::{self, VirtioWindow};
use crate::arch::x86_64::layout::{
    COM1_IRQ, GED_IRQ, MAX_VIRTIO_DEVICES, VIRTIO_IRQ_BASE, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SIZE,
};
use crate::arch::x86_64::regs::BootEntry;
use crate::devices::Devices;
use crate::devices::power_button::PowerButton;
use crate::devices::serial::{ConsoleOut, SerialConsole};
use crate::devices::virtio::blk::{BlkError, Block};
use crate::devices::virtio::mmio::MmioTransport;
use crate::devices::virtio::net::netlink::{self, NetlinkError};
use crate::devices::virtio::net::tap::{Tap, TapError};
use crate::devices::virtio::net::{self as vnet, Net};
use crate::loader::{self, BootSource, Loaded, LoaderError};
use crate::runstate::{ExitReason, RunControl};
use crate::spec::{DiskSpec, NicSpec, VmSpec};
use crate::vstate::vcpu::{Vcpu, VcpuError};
use crate::vstate::vm::{Vm, VmError};

/// Failures while building or starting a VM.
#[derive(Debug, thiserror::Error)]
pub enum VmmError {
    /// The spec asks for something impossible.
    #[error("{key}: {why}")]
    BadSpec {
        /// The spec field (named like the xl.cfg key).
        key: &'static str,
        /// What is wrong and how to fix it.
        why: String,
    },
    /// The VM could not be created.
    #[error(transparent)]
    Vm(#[from] VmError),
    /// A vCPU could not be created or set up.
    #[error(transparent)]
    Vcpu(#[from] VcpuError),
    /// A disk could not be opened.
    #[error(transparent)]
    Disk(#[from] BlkError),
    /// A NIC's tap could not be created.
    #[error("vif {index}: {source}")]
    Tap {
        /// NIC index.
        index: usize,
        /// Why.
        #[source]
        source: TapError,
    },
    /// A NIC's tap could not be attached to its bridge.
    #[error("vif {index}: {source}")]
    Bridge {
        /// NIC index.
        index: usize,
        /// Why.
        #[source]
        source: NetlinkError,
    },
    /// The kernel, initrd or command line could not be loaded.
    #[error(transparent)]
    Loader(#[from] LoaderError),
    /// The ACPI tables could not be written.
    #[error("ACPI tables: {source}")]
    Acpi {
        /// Why.
        #[source]
        source: crate::arch::x86_64::ArchError,
    },
    /// An eventfd, irqfd or thread could not be created.
    #[error("{what}: {source}")]
    Os {
        /// What was being created.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The largest vCPU count accepted (APIC ids are one byte; KVM's own limit is checked too).
pub const MAX_VCPUS: u8 = 254;

/// A built VM, ready to run.
pub struct Vmm {
    vm: Vm,
    vcpus: Vec<Vcpu>,
    devices: Arc<Devices>,
    control: Arc<RunControl>,
}

fn irq_line(vm: &Vm, gsi: u32) -> Result<EventFd, VmmError> {
    let os = |what| move |source| VmmError::Os { what, source };
    let evt = EventFd::new(libc::EFD_NONBLOCK).map_err(os("eventfd"))?;
    vm.fd.register_irqfd(&evt, gsi).map_err(|e| VmmError::Os {
        what: "KVM_IRQFD",
        source: std::io::Error::from_raw_os_error(e.errno()),
    })?;
    Ok(evt)
}

impl Vmm {
    /// Creates the VM, its devices (COM1 to `console`, one virtio-blk per disk) and vCPUs.
    pub fn new(
        memory_mib: u64,
        vcpus: u8,
        disks: &[DiskSpec],
        console: ConsoleOut,
        control: Arc<RunControl>,
    ) -> Result<Vmm, VmmError> {
        Vmm::with_nics(memory_mib, vcpus, disks, &[], "guest", console, control)
    }

    /// [`Vmm::new`] plus one virtio-net per NIC (after the disks); `name` seeds default MACs.
    pub fn with_nics(
        memory_mib: u64,
        vcpus: u8,
        disks: &[DiskSpec],
        nics: &[NicSpec],
        name: &str,
        console: ConsoleOut,
        control: Arc<RunControl>,
    ) -> Result<Vmm, VmmError> {
        let mut spec = VmSpec::new(name, "");
        spec.memory_mib = memory_mib;
        spec.vcpus = vcpus;
        spec.disks = disks.to_vec();
        spec.nics = nics.to_vec();
        Vmm::build(&spec, console, control)
    }

    /// The VM, devices and vCPUs of `spec` (its kernel is loaded separately).
    fn build(
        spec: &VmSpec,
        console: ConsoleOut,
        control: Arc<RunControl>,
    ) -> Result<Vmm, VmmError> {
        let (memory_mib, vcpus, disks, nics, name) = (
            spec.memory_mib,
            spec.vcpus,
            &spec.disks,
            &spec.nics,
            &spec.name,
        );
        if vcpus == 0 || vcpus > MAX_VCPUS {
            return Err(VmmError::BadSpec {
                key: "vcpus",
                why: format!("{vcpus} is out of range; use 1 to {MAX_VCPUS}"),
            });
        }
        if disks.len() + nics.len() > MAX_VIRTIO_DEVICES {
            return Err(VmmError::BadSpec {
                key: "disk",
                why: format!(
                    "{} disks and {} vifs exceed the {MAX_VIRTIO_DEVICES} virtio devices a VM can have",
                    disks.len(),
                    nics.len()
                ),
            });
        }
        let vm = Vm::new(memory_mib, spec.pit)?;
        if usize::from(vcpus) > vm.kvm.get_max_vcpus() {
            return Err(VmmError::BadSpec {
                key: "vcpus",
                why: format!(
                    "{vcpus} exceeds this host's KVM limit of {}",
                    vm.kvm.get_max_vcpus()
                ),
            });
        }
        let serial = SerialConsole::new(irq_line(&vm, COM1_IRQ)?, console);
        let mut virtio = Vec::with_capacity(disks.len());
        for (i, disk) in disks.iter().enumerate() {
            let blk = Block::open(&disk.path, disk.read_only)?;
            let irq = irq_line(&vm, VIRTIO_IRQ_BASE + i as u32)?;
            virtio.push(MmioTransport::new(Box::new(blk), vm.mem.clone(), irq));
        }
        for (index, nic) in nics.iter().enumerate() {
            let tap = Tap::open(nic.tap.as_deref().unwrap_or("rxltap%d"))
                .map_err(|source| VmmError::Tap { index, source })?;
            if let Some(br) = &nic.bridge {
                netlink::attach_to_bridge(tap.name(), br)
                    .map_err(|source| VmmError::Bridge { index, source })?;
            }
            let mac = nic.mac.unwrap_or_else(|| vnet::default_mac(name, index));
            let irq = irq_line(&vm, VIRTIO_IRQ_BASE + virtio.len() as u32)?;
            virtio.push(MmioTransport::new(
                Box::new(Net::new(tap, mac)),
                vm.mem.clone(),
                irq,
            ));
        }
        let button = PowerButton::new(irq_line(&vm, GED_IRQ)?);
        let devices = Arc::new(Devices::new(serial, button, virtio, control.clone()));
        let vcpus = (0..vcpus)
            .map(|id| Vcpu::new(&vm, id, vcpus))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Vmm {
            vm,
            vcpus,
            devices,
            control,
        })
    }

    /// Builds the VM `spec` describes and loads its kernel.
    pub fn from_spec(
        spec: &VmSpec,
        console: ConsoleOut,
        control: Arc<RunControl>,
    ) -> Result<(Vmm, Loaded), VmmError> {
        let vmm = Vmm::build(spec, console, control)?;
        // Stock kernels find the virtio-mmio windows and the power-off register through ACPI.
        let windows: Vec<VirtioWindow> = (0..(spec.disks.len() + spec.nics.len()) as u64)
            .map(|i| VirtioWindow {
                base: VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SIZE,
                irq: VIRTIO_IRQ_BASE + i as u32,
            })
            .collect();
        let rsdp = acpi::write_tables(vmm.memory(), spec.vcpus, &windows)
            .map_err(|source| VmmError::Acpi { source })?;
        let src = BootSource {
            kernel: crate::unpack::boot_image(&spec.kernel),
            initrd: spec.ramdisk.clone(),
            cmdline: spec.cmdline.trim().to_string(),
            acpi_rsdp: Some(rsdp),
        };
        let loaded = vmm.load(&src)?;
        Ok((vmm, loaded))
    }

    /// Loads a kernel and points the boot vCPU at it.
    pub fn load(&self, src: &BootSource) -> Result<Loaded, VmmError> {
        let loaded = loader::load(&self.vm.mem, src)?;
        self.set_entry(loaded.entry)?;
        Ok(loaded)
    }

    /// Sets the boot vCPU's entry state directly (raw payloads in tests).
    pub fn set_entry(&self, entry: BootEntry) -> Result<(), VmmError> {
        if let Some(bsp) = self.vcpus.first() {
            bsp.set_entry(&self.vm.mem, entry)?;
        }
        Ok(())
    }

    /// Guest RAM.
    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.vm.mem
    }

    /// The device bus.
    pub fn devices(&self) -> Arc<Devices> {
        self.devices.clone()
    }

    /// Runs every vCPU on its own thread until the VM stops; returns why.
    pub fn run(self) -> Result<ExitReason, VmmError> {
        let Vmm {
            vm,
            vcpus,
            devices,
            control,
        } = self;
        vm.register_memory()?;
        let mut handles = Vec::with_capacity(vcpus.len());
        for vcpu in vcpus {
            let (d, c) = (devices.clone(), control.clone());
            let spawned = thread::Builder::new()
                .name(format!("vcpu{}", vcpu.id()))
                .spawn(move || vcpu.run(d, c));
            match spawned {
                Ok(h) => handles.push(h),
                Err(source) => {
                    control.request_exit(ExitReason::Destroyed);
                    stop_threads(&control, handles);
                    return Err(VmmError::Os {
                        what: "spawning a vCPU thread",
                        source,
                    });
                }
            }
        }
        let net_io = if devices.has_net() {
            let d = devices.clone();
            thread::Builder::new()
                .name("net-io".into())
                .spawn(move || d.net_io_loop())
                .ok()
        } else {
            None
        };
        let reason = control.wait_exit();
        stop_threads(&control, handles);
        if let Some(h) = net_io {
            // It notices the stop within one poll tick.
            let _ = h.join();
        }
        devices
            .serial
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .flush();
        drop(vm);
        Ok(reason)
    }
}

fn stop_threads(control: &RunControl, handles: Vec<thread::JoinHandle<()>>) {
    // vCPUs blocked in KVM_RUN (halted, or APs never started) only return when kicked.
    while handles.iter().any(|h| !h.is_finished()) {
        control.kick_all();
        thread::sleep(Duration::from_micros(200));
    }
    for h in handles {
        // A vCPU thread never panics on purpose; if one did, the VM is stopping anyway.
        let _ = h.join();
    }
}
