//! virtio-blk over a raw image file or a host block device: read, write (unless read-only),
//! flush and get-id, served synchronously on the notifying vCPU's thread.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemoryMmap};

use super::{VirtioDevice, read_config_bytes};

/// virtio device id of a block device.
pub const DEVICE_ID: u32 = 2;
const SECTOR_SIZE: u64 = 512;
const QUEUE_SIZE: u16 = 256;
const VIRTIO_BLK_F_RO: u64 = 1 << 5;
const VIRTIO_BLK_F_FLUSH: u64 = 1 << 9;
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;
const ID_LEN: usize = 20;

/// Failures opening a disk.
#[derive(Debug, thiserror::Error)]
pub enum BlkError {
    /// The backing file or device could not be opened or sized.
    #[error("disk {path}: {source} (check the path in disk= and its permissions)")]
    Open {
        /// The backing path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// One virtio-blk device.
pub struct Block {
    file: File,
    path: PathBuf,
    sectors: u64,
    read_only: bool,
    config: [u8; 8],
    queue_sizes: [u16; 1],
}

impl Block {
    /// Opens `path` (a raw image or block device), read-only when `read_only`.
    pub fn open(path: &Path, read_only: bool) -> Result<Block, BlkError> {
        let err = |source| BlkError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(err)?;
        // Seeking to the end sizes regular files and block devices alike.
        let bytes = {
            use std::io::Seek;
            (&file).seek(std::io::SeekFrom::End(0)).map_err(err)?
        };
        let sectors = bytes / SECTOR_SIZE;
        Ok(Block {
            file,
            path: path.to_path_buf(),
            sectors,
            read_only,
            config: sectors.to_le_bytes(),
            queue_sizes: [QUEUE_SIZE],
        })
    }

    /// Capacity in 512-byte sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// Serves one request; returns (status, bytes written into guest buffers).
    fn serve(&mut self, req: &Request, mem: &GuestMemoryMmap) -> (u8, u32) {
        match req.kind {
            T_IN | T_OUT => {
                let total: u64 = req.data.iter().map(|d| u64::from(d.1)).sum();
                let end = req.sector.checked_add(total.div_ceil(SECTOR_SIZE));
                if end.is_none_or(|e| e > self.sectors) {
                    return (S_IOERR, 0);
                }
                if req.kind == T_OUT && self.read_only {
                    return (S_IOERR, 0);
                }
                let mut pos = req.sector * SECTOR_SIZE;
                let mut written = 0u32;
                for &(addr, len, _) in &req.data {
                    let mut buf = vec![0u8; len as usize];
                    let ok = if req.kind == T_IN {
                        self.file.read_exact_at(&mut buf, pos).is_ok()
                            && mem.write_slice(&buf, addr).is_ok()
                    } else {
                        mem.read_slice(&mut buf, addr).is_ok()
                            && self.file.write_all_at(&buf, pos).is_ok()
                    };
                    if !ok {
                        return (S_IOERR, written);
                    }
                    if req.kind == T_IN {
                        written += len;
                    }
                    pos += u64::from(len);
                }
                (S_OK, written)
            }
            T_FLUSH => match self.file.sync_data() {
                Ok(()) => (S_OK, 0),
                Err(_) => (S_IOERR, 0),
            },
            T_GET_ID => {
                let mut id = [0u8; ID_LEN];
                let name = self
                    .path
                    .file_name()
                    .map(|n| n.as_encoded_bytes())
                    .unwrap_or(b"rxl");
                let n = name.len().min(ID_LEN);
                id[..n].copy_from_slice(&name[..n]);
                match req.data.first() {
                    Some(&(addr, len, true)) if len as usize >= ID_LEN => {
                        if mem.write_slice(&id, addr).is_ok() {
                            (S_OK, ID_LEN as u32)
                        } else {
                            (S_IOERR, 0)
                        }
                    }
                    _ => (S_IOERR, 0),
                }
            }
            _ => (S_UNSUPP, 0),
        }
    }
}

/// A parsed request: header fields, data buffers (addr, len, device-writable), status byte.
struct Request {
    kind: u32,
    sector: u64,
    data: Vec<(GuestAddress, u32, bool)>,
    status: GuestAddress,
}

fn parse(descs: &[(GuestAddress, u32, bool)], mem: &GuestMemoryMmap) -> Option<Request> {
    let (&(hdr, hdr_len, _), rest) = descs.split_first()?;
    let (&(status, status_len, status_w), data) = rest.split_last()?;
    if hdr_len < 16 || status_len < 1 || !status_w {
        return None;
    }
    let kind: u32 = mem.read_obj(hdr).ok()?;
    let sector: u64 = mem.read_obj(hdr.checked_add(8)?).ok()?;
    Some(Request {
        kind,
        sector,
        data: data.to_vec(),
        status,
    })
}

impl VirtioDevice for Block {
    fn device_type(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        VIRTIO_BLK_F_FLUSH | if self.read_only { VIRTIO_BLK_F_RO } else { 0 }
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &self.queue_sizes
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        read_config_bytes(&self.config, offset, data);
    }

    fn process_queue(&mut self, _index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let mut used_any = false;
        loop {
            let chains: Vec<_> = match queue.iter(mem) {
                Ok(iter) => iter.collect(),
                Err(_) => return used_any,
            };
            if chains.is_empty() {
                break;
            }
            for chain in chains {
                let head = chain.head_index();
                let descs: Vec<_> = chain
                    .map(|d| (d.addr(), d.len(), d.is_write_only()))
                    .collect();
                let used_len = match parse(&descs, mem) {
                    Some(req) => {
                        let (st, n) = self.serve(&req, mem);
                        // The status byte is part of what the device wrote.
                        let _ = mem.write_obj(st, req.status);
                        n + 1
                    }
                    None => 0,
                };
                if queue.add_used(mem, head, used_len).is_ok() {
                    used_any = true;
                }
            }
        }
        used_any && queue.needs_notification(mem).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn open_sizes_the_image_and_missing_file_names_path() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        let b = Block::open(f.path(), true).unwrap();
        assert_eq!(b.sectors(), 8);
        assert_ne!(b.features() & VIRTIO_BLK_F_RO, 0);
        let mut cap = [0u8; 8];
        b.read_config(0, &mut cap);
        assert_eq!(u64::from_le_bytes(cap), 8);
        let e = Block::open(Path::new("/nonexistent/disk.img"), false)
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/disk.img"));
    }

    #[test]
    fn read_only_disk_refuses_writes() {
        let f = tempfile::NamedTempFile::new().unwrap();
        f.as_file().set_len(1024).unwrap();
        let mut b = Block::open(f.path(), true).unwrap();
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        let req = Request {
            kind: T_OUT,
            sector: 0,
            data: vec![(GuestAddress(0x1000), 512, false)],
            status: GuestAddress(0x2000),
        };
        assert_eq!(b.serve(&req, &mem).0, S_IOERR);
        let past_end = Request {
            kind: T_IN,
            sector: 2,
            data: vec![(GuestAddress(0x1000), 512, true)],
            status: GuestAddress(0x2000),
        };
        assert_eq!(b.serve(&past_end, &mem).0, S_IOERR);
    }
}
