//! Kernel loading with linux-loader: an ELF `vmlinux` (PVH entry when it carries
//! XEN_ELFNOTE_PHYS32_ENTRY, else its 64-bit entry) or a bzImage (Linux boot protocol), plus
//! the command line, the initrd, and the boot structures (`hvm_start_info` or the zero page).

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use linux_loader::configurator::linux::LinuxBootConfigurator;
use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use linux_loader::loader::elf::{Elf, PvhBootCapability};
use linux_loader::loader::{self, BzImage, Cmdline, KernelLoader};
use linux_loader::start_info::{hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemoryMmap};

use crate::arch::x86_64::layout::{self, CMDLINE_MAX_SIZE, CMDLINE_START, HIMEM_START};
use crate::arch::x86_64::regs::BootEntry;
use crate::vstate::memory::ram_bytes;

const PVH_MAGIC: u32 = 0x336e_c578;
const KERNEL_BOOT_FLAG_MAGIC: u16 = 0xaa55;
const KERNEL_HDR_MAGIC: u32 = 0x5372_6448; // "HdrS"
const KERNEL_LOADER_OTHER: u8 = 0xff;
/// bzImage 64-bit entry: 0x200 past the protected-mode code (boot protocol ≥ 2.12).
const BZIMAGE_64BIT_ENTRY_OFFSET: u64 = 0x200;
const PAGE: u64 = 0x1000;

/// Failures while loading the kernel, command line or initrd.
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    /// A file could not be opened or read.
    #[error("{what} {path}: {source}")]
    Io {
        /// "kernel" or "ramdisk".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel is neither a loadable ELF64 nor a bzImage.
    #[error(
        "kernel {path}: not a loadable kernel ({elf}; as bzImage: {bz}); give an ELF64 vmlinux (PVH note or 64-bit entry) or a bzImage"
    )]
    BadKernel {
        /// The file.
        path: PathBuf,
        /// Why ELF loading failed.
        elf: loader::Error,
        /// Why bzImage loading failed.
        bz: loader::Error,
    },
    /// The command line is too long or has invalid characters.
    #[error("cmdline: {0} (at most {max} bytes of printable ASCII)", max = CMDLINE_MAX_SIZE - 1)]
    Cmdline(linux_loader::cmdline::Error),
    /// Writing the command line to guest memory failed.
    #[error("cannot write the command line: {0}")]
    CmdlineLoad(loader::Error),
    /// The initrd does not fit between the kernel and the top of low RAM.
    #[error(
        "ramdisk {path} ({size} bytes) does not fit in guest RAM below {limit:#x} above the kernel (ends {kernel_end:#x}); raise memory="
    )]
    InitrdTooBig {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Highest address it may reach.
        limit: u64,
        /// End of the loaded kernel.
        kernel_end: u64,
    },
    /// A boot structure could not be written.
    #[error("cannot write the {what}: {detail}")]
    BootParams {
        /// Which structure.
        what: &'static str,
        /// The configurator's reason.
        detail: String,
    },
}

/// What to boot.
#[derive(Debug, Clone, Default)]
pub struct BootSource {
    /// Kernel image (ELF vmlinux or bzImage).
    pub kernel: PathBuf,
    /// Optional initrd.
    pub initrd: Option<PathBuf>,
    /// Kernel command line.
    pub cmdline: String,
    /// Address of the ACPI RSDP to hand the kernel, if tables were written.
    pub acpi_rsdp: Option<u64>,
}

/// Which protocol the kernel was loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelKind {
    /// ELF with a PVH entry note.
    PvhElf,
    /// ELF64 without the note: entered in long mode at e_entry.
    Elf64,
    /// bzImage (Linux boot protocol).
    BzImage,
}

/// The result of loading: the vCPU entry and the kind of kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// How the boot vCPU starts.
    pub entry: BootEntry,
    /// What was loaded.
    pub kind: KernelKind,
}

fn open(what: &'static str, path: &Path) -> Result<File, LoaderError> {
    File::open(path).map_err(|source| LoaderError::Io {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Loads `src` into `mem` and writes the boot structures; returns the vCPU entry.
pub fn load(mem: &GuestMemoryMmap, src: &BootSource) -> Result<Loaded, LoaderError> {
    let mut kernel = open("kernel", &src.kernel)?;
    let himem = Some(GuestAddress(HIMEM_START));
    let result = match Elf::load(mem, None, &mut kernel, himem) {
        Ok(r) => r,
        Err(elf) => {
            kernel
                .seek(SeekFrom::Start(0))
                .map_err(|source| LoaderError::Io {
                    what: "kernel",
                    path: src.kernel.clone(),
                    source,
                })?;
            BzImage::load(mem, None, &mut kernel, himem).map_err(|bz| LoaderError::BadKernel {
                path: src.kernel.clone(),
                elf,
                bz,
            })?
        }
    };

    let mut cmdline = Cmdline::new(CMDLINE_MAX_SIZE).map_err(LoaderError::Cmdline)?;
    if !src.cmdline.is_empty() {
        cmdline
            .insert_str(&src.cmdline)
            .map_err(LoaderError::Cmdline)?;
    }
    loader::load_cmdline(mem, GuestAddress(CMDLINE_START), &cmdline)
        .map_err(LoaderError::CmdlineLoad)?;
    let cmdline_len = src.cmdline.len() as u32 + 1;

    let max_initrd_end = match &result.setup_header {
        Some(h) if h.initrd_addr_max != 0 => u64::from(h.initrd_addr_max) + 1,
        _ => u64::MAX,
    };
    let initrd = match &src.initrd {
        Some(path) => Some(load_initrd(mem, path, result.kernel_end, max_initrd_end)?),
        None => None,
    };
    let ram = ram_bytes(mem);

    match (result.setup_header, result.pvh_boot_cap) {
        (None, PvhBootCapability::PvhEntryPresent(entry)) => {
            write_start_info(mem, ram, initrd, src.acpi_rsdp)?;
            Ok(Loaded {
                entry: BootEntry::Pvh {
                    rip: entry.raw_value(),
                    start_info: layout::PVH_INFO_START,
                },
                kind: KernelKind::PvhElf,
            })
        }
        (None, _) => {
            write_zero_page(mem, ram, None, cmdline_len, initrd, src.acpi_rsdp)?;
            Ok(Loaded {
                entry: BootEntry::LongMode {
                    rip: result.kernel_load.raw_value(),
                    boot_params: layout::ZERO_PAGE_START,
                },
                kind: KernelKind::Elf64,
            })
        }
        (Some(hdr), _) => {
            write_zero_page(mem, ram, Some(hdr), cmdline_len, initrd, src.acpi_rsdp)?;
            Ok(Loaded {
                entry: BootEntry::LongMode {
                    rip: result.kernel_load.raw_value() + BZIMAGE_64BIT_ENTRY_OFFSET,
                    boot_params: layout::ZERO_PAGE_START,
                },
                kind: KernelKind::BzImage,
            })
        }
    }
}

/// Places the initrd page-aligned as high as possible in low RAM (below `max_end`), above the
/// kernel; returns (address, size).
fn load_initrd(
    mem: &GuestMemoryMmap,
    path: &Path,
    kernel_end: u64,
    max_end: u64,
) -> Result<(u64, u64), LoaderError> {
    let io = |source| LoaderError::Io {
        what: "ramdisk",
        path: path.to_path_buf(),
        source,
    };
    let mut file = open("ramdisk", path)?;
    let size = file.seek(SeekFrom::End(0)).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let low_ram_end = ram_bytes(mem).min(layout::MMIO_GAP_START);
    let limit = low_ram_end.min(max_end);
    let too_big = || LoaderError::InitrdTooBig {
        path: path.to_path_buf(),
        size,
        limit,
        kernel_end,
    };
    let addr = limit.checked_sub(size).ok_or_else(too_big)? & !(PAGE - 1);
    if addr < kernel_end.next_multiple_of(PAGE) {
        return Err(too_big());
    }
    mem.read_exact_volatile_from(GuestAddress(addr), &mut file, size as usize)
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    Ok((addr, size))
}

fn bp_err(what: &'static str) -> impl FnOnce(linux_loader::configurator::Error) -> LoaderError {
    move |e| LoaderError::BootParams {
        what,
        detail: e.to_string(),
    }
}

fn write_start_info(
    mem: &GuestMemoryMmap,
    ram: u64,
    initrd: Option<(u64, u64)>,
    rsdp: Option<u64>,
) -> Result<(), LoaderError> {
    let memmap: Vec<hvm_memmap_table_entry> = layout::e820_map(ram)
        .into_iter()
        .map(|(addr, size, kind)| hvm_memmap_table_entry {
            addr,
            size,
            type_: kind,
            reserved: 0,
        })
        .collect();
    let mut info = hvm_start_info {
        magic: PVH_MAGIC,
        version: 1,
        cmdline_paddr: CMDLINE_START,
        memmap_paddr: layout::PVH_MEMMAP_START,
        memmap_entries: memmap.len() as u32,
        rsdp_paddr: rsdp.unwrap_or(0),
        ..Default::default()
    };
    let mut params = BootParams::new(&info, GuestAddress(layout::PVH_INFO_START));
    params.set_sections(&memmap, GuestAddress(layout::PVH_MEMMAP_START));
    if let Some((paddr, size)) = initrd {
        info.nr_modules = 1;
        info.modlist_paddr = layout::PVH_MODLIST_START;
        params = BootParams::new(&info, GuestAddress(layout::PVH_INFO_START));
        params.set_sections(&memmap, GuestAddress(layout::PVH_MEMMAP_START));
        let module = hvm_modlist_entry {
            paddr,
            size,
            ..Default::default()
        };
        params.set_modules(&[module], GuestAddress(layout::PVH_MODLIST_START));
    }
    PvhBootConfigurator::write_bootparams::<GuestMemoryMmap>(&params, mem)
        .map_err(bp_err("PVH start info"))
}

fn write_zero_page(
    mem: &GuestMemoryMmap,
    ram: u64,
    setup_header: Option<setup_header>,
    cmdline_len: u32,
    initrd: Option<(u64, u64)>,
    rsdp: Option<u64>,
) -> Result<(), LoaderError> {
    let mut bp = boot_params {
        acpi_rsdp_addr: rsdp.unwrap_or(0),
        ..Default::default()
    };
    if let Some(hdr) = setup_header {
        bp.hdr = hdr;
    } else {
        bp.hdr.boot_flag = KERNEL_BOOT_FLAG_MAGIC;
        bp.hdr.header = KERNEL_HDR_MAGIC;
    }
    bp.hdr.type_of_loader = KERNEL_LOADER_OTHER;
    bp.hdr.cmd_line_ptr = CMDLINE_START as u32;
    bp.hdr.cmdline_size = cmdline_len;
    if let Some((addr, size)) = initrd {
        bp.hdr.ramdisk_image = addr as u32;
        bp.hdr.ramdisk_size = size as u32;
    }
    let map = layout::e820_map(ram);
    for (slot, (addr, size, kind)) in bp.e820_table.iter_mut().zip(&map) {
        *slot = boot_e820_entry {
            addr: *addr,
            size: *size,
            r#type: *kind,
        };
    }
    bp.e820_entries = map.len().min(bp.e820_table.len()) as u8;
    let params = BootParams::new(&bp, GuestAddress(layout::ZERO_PAGE_START));
    LinuxBootConfigurator::write_bootparams::<GuestMemoryMmap>(&params, mem)
        .map_err(bp_err("zero page"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(mib: u64) -> GuestMemoryMmap {
        crate::vstate::memory::create(mib).unwrap()
    }

    fn pvh() -> Option<PathBuf> {
        let dir = env!("RXL_KVM_GUEST_DIR");
        (!dir.is_empty()).then(|| PathBuf::from(dir).join("pvh.elf"))
    }

    #[test]
    fn pvh_kernel_gets_start_info_with_cmdline_initrd_and_rsdp() {
        let Some(kernel) = pvh() else { return };
        let initrd = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(initrd.path(), [0x5a; 3000]).unwrap();
        let m = mem(16);
        let src = BootSource {
            kernel,
            initrd: Some(initrd.path().to_path_buf()),
            cmdline: "a=b".into(),
            acpi_rsdp: Some(0xe0000),
        };
        let loaded = load(&m, &src).unwrap();
        assert_eq!(loaded.kind, KernelKind::PvhElf);
        let info: hvm_start_info = m.read_obj(GuestAddress(layout::PVH_INFO_START)).unwrap();
        assert_eq!(
            (info.magic, info.nr_modules, info.rsdp_paddr),
            (PVH_MAGIC, 1, 0xe0000)
        );
        let module: hvm_modlist_entry = m.read_obj(GuestAddress(info.modlist_paddr)).unwrap();
        assert_eq!(module.size, 3000);
        assert_eq!(module.paddr % PAGE, 0);
        let byte: u8 = m.read_obj(GuestAddress(module.paddr)).unwrap();
        assert_eq!(byte, 0x5a);
        let mut cmd = [0u8; 4];
        m.read_slice(&mut cmd, GuestAddress(info.cmdline_paddr))
            .unwrap();
        assert_eq!(&cmd, b"a=b\0");
    }

    #[test]
    fn oversized_initrd_and_cmdline_are_refused_by_name() {
        let Some(kernel) = pvh() else { return };
        let big = tempfile::NamedTempFile::new().unwrap();
        big.as_file().set_len(20 << 20).unwrap();
        let m = mem(16);
        let src = BootSource {
            kernel: kernel.clone(),
            initrd: Some(big.path().to_path_buf()),
            ..Default::default()
        };
        let e = load(&m, &src).unwrap_err().to_string();
        assert!(
            e.contains("does not fit") && e.contains("raise memory="),
            "{e}"
        );
        let src = BootSource {
            kernel,
            cmdline: "x".repeat(CMDLINE_MAX_SIZE + 1),
            ..Default::default()
        };
        let e = load(&m, &src).unwrap_err().to_string();
        assert!(e.starts_with("cmdline:"), "{e}");
    }
}
