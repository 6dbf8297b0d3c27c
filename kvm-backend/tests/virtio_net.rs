//! virtio-net over a real tap enslaved to a real bridge (root/CAP_NET_ADMIN needed; skips
//! otherwise). A Rust "driver" programs the virtio-mmio registers and rings in guest memory
//! exactly as a guest would, then a frame goes guest → tap (seen by an AF_PACKET socket on the
//! tap) and host → tap → guest RX buffer.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rxl_kvm::devices::virtio::mmio::MmioTransport;
use rxl_kvm::devices::virtio::net::netlink;
use rxl_kvm::devices::virtio::net::tap::Tap;
use rxl_kvm::devices::virtio::net::{DEVICE_ID, Net};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vmm_sys_util::eventfd::EventFd;

const QSZ: u32 = 16;
const BUF: u64 = 0x10000;

struct Driver {
    t: MmioTransport,
    mem: Arc<GuestMemoryMmap>,
    avail_idx: [u16; 2],
}

fn q_base(q: u32) -> u64 {
    0x1000 + u64::from(q) * 0x3000
}

impl Driver {
    fn w(&mut self, off: u64, v: u32) {
        self.t.write(off, &v.to_le_bytes());
    }
    fn r(&mut self, off: u64) -> u32 {
        let mut b = [0u8; 4];
        self.t.read(off, &mut b);
        u32::from_le_bytes(b)
    }
    fn setup(&mut self) {
        assert_eq!(self.r(0), 0x7472_6976);
        assert_eq!(self.r(8), DEVICE_ID);
        self.w(0x70, 0);
        self.w(0x70, 3);
        self.w(0x14, 0);
        assert_ne!(self.r(0x10) & (1 << 5), 0, "VIRTIO_NET_F_MAC offered");
        self.w(0x24, 1);
        self.w(0x20, 1); // VERSION_1
        self.w(0x70, 0xb);
        assert_ne!(self.r(0x70) & 8, 0, "FEATURES_OK accepted");
        for q in 0..2 {
            let base = q_base(q);
            self.w(0x30, q);
            assert!(self.r(0x34) >= QSZ);
            self.w(0x38, QSZ);
            self.w(0x80, base as u32);
            self.w(0x90, (base + 0x1000) as u32);
            self.w(0xa0, (base + 0x2000) as u32);
            self.w(0x44, 1);
        }
        self.w(0x70, 0xf);
    }
    /// Posts one buffer of `len` bytes at `addr` on queue `q` and notifies.
    fn post(&mut self, q: u32, addr: u64, len: u32, writable: bool) {
        let base = q_base(q);
        let slot = u64::from(self.avail_idx[q as usize]) % u64::from(QSZ);
        let desc = base + slot * 16;
        self.mem.write_obj(addr, GuestAddress(desc)).unwrap();
        self.mem.write_obj(len, GuestAddress(desc + 8)).unwrap();
        self.mem
            .write_obj(if writable { 2u16 } else { 0 }, GuestAddress(desc + 12))
            .unwrap();
        let avail = base + 0x1000;
        self.mem
            .write_obj(slot as u16, GuestAddress(avail + 4 + slot * 2))
            .unwrap();
        self.avail_idx[q as usize] += 1;
        self.mem
            .write_obj(self.avail_idx[q as usize], GuestAddress(avail + 2))
            .unwrap();
        self.w(0x50, q);
    }
    fn used(&self, q: u32) -> (u16, u32) {
        let used = q_base(q) + 0x2000;
        let idx: u16 = self.mem.read_obj(GuestAddress(used + 2)).unwrap();
        let len: u32 = self.mem.read_obj(GuestAddress(used + 4 + 4)).unwrap();
        (idx, len)
    }
}

fn packet_socket(ifname: &str) -> OwnedFd {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); owned immediately.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK,
            i32::from(proto),
        )
    };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let name = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: valid C string.
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = idx as i32;
    // SAFETY: `sll` is a valid sockaddr_ll of the given size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of_val(&sll) as u32,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    fd
}

fn frame(dst: [u8; 6], src: [u8; 6], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x88b5u16.to_be_bytes()); // local experimental ethertype
    f.extend_from_slice(payload);
    f
}

struct Bridge(String);
impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

#[test]
fn frames_cross_a_real_tap_on_a_bridge_both_ways() {
    let tap = match Tap::open("rxlt%d") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIP virtio_net: {e}");
            return;
        }
    };
    let br = Bridge(format!("rxlbr{}", std::process::id() % 10000));
    let ok = Command::new("ip")
        .args(["link", "add", &br.0, "type", "bridge"])
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("ip")
            .args(["link", "set", &br.0, "up"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP virtio_net: cannot create a bridge with `ip link add`");
        return;
    }
    netlink::attach_to_bridge(tap.name(), &br.0).unwrap();
    let master = std::fs::read_link(format!("/sys/class/net/{}/master", tap.name())).unwrap();
    assert!(master.ends_with(&br.0), "tap enslaved to {master:?}");
    let tap_name = tap.name().to_string();
    let sniff = packet_socket(&tap_name);

    let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    let mem = Arc::new(GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x40000)]).unwrap());
    let t = MmioTransport::new(
        Box::new(Net::new(tap, mac)),
        mem.clone(),
        EventFd::new(0).unwrap(),
    );
    let mut d = Driver {
        t,
        mem: mem.clone(),
        avail_idx: [0; 2],
    };
    d.setup();
    let mut cfg = [0u8; 6];
    d.t.read(0x100, &mut cfg);
    assert_eq!(cfg, mac);

    // TX: header (12 zero bytes) + frame; the host sees exactly the frame on the tap.
    let out = frame([0xff; 6], mac, b"RXL-NET-TX-HELLO");
    let mut buf = vec![0u8; 12];
    buf.extend_from_slice(&out);
    mem.write_slice(&buf, GuestAddress(BUF)).unwrap();
    d.post(1, BUF, buf.len() as u32, false);
    assert_eq!(d.used(1).0, 1, "TX buffer returned");
    let mut got = vec![0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(5);
    let n = loop {
        // SAFETY: `got` is a writable buffer of its length.
        let n = unsafe { libc::recv(sniff.as_raw_fd(), got.as_mut_ptr().cast(), got.len(), 0) };
        if n > 0 && got[..n as usize] == out[..] {
            break n as usize;
        }
        assert!(
            Instant::now() < deadline,
            "frame never appeared on {tap_name}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(&got[..n], &out[..]);

    // RX: the host transmits on the tap; a posted guest buffer receives header + frame. The
    // host kernel may send its own frames (IPv6 neighbour discovery) on the new link too, so
    // several buffers are posted and the one holding our frame is looked for.
    for i in 0..8u64 {
        d.post(0, BUF + 0x1000 + i * 0x800, 0x800, true);
    }
    let inbound = frame(mac, [0x02, 0, 0, 0, 0, 1], b"RXL-NET-RX-HELLO");
    // SAFETY: `inbound` is a readable buffer of its length.
    let sent = unsafe { libc::send(sniff.as_raw_fd(), inbound.as_ptr().cast(), inbound.len(), 0) };
    assert_eq!(
        sent,
        inbound.len() as isize,
        "{}",
        std::io::Error::last_os_error()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let used_ring = q_base(0) + 0x2000;
    let mut seen = 0u16;
    'found: loop {
        d.t.net_rx();
        let (idx, _) = d.used(0);
        while seen < idx {
            let elem = used_ring + 4 + u64::from(seen % QSZ as u16) * 8;
            let id: u32 = mem.read_obj(GuestAddress(elem)).unwrap();
            let len: u32 = mem.read_obj(GuestAddress(elem + 4)).unwrap();
            seen += 1;
            let mut rx = vec![0u8; len as usize];
            mem.read_slice(&mut rx, GuestAddress(BUF + 0x1000 + u64::from(id) * 0x800))
                .unwrap();
            if rx.len() == 12 + inbound.len() && rx[12..] == inbound[..] {
                assert_eq!(u16::from_le_bytes([rx[10], rx[11]]), 1, "num_buffers");
                break 'found;
            }
        }
        assert!(
            Instant::now() < deadline,
            "frame never reached the RX queue"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(d.r(0x60) & 1, 1, "used-ring interrupt raised");
}
