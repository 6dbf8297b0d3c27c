//! rtnetlink, just enough for `vif bridge=`: enslave a tap to a bridge and bring it up, in one
//! RTM_NEWLINK request (what `ip link set TAP master BR up` sends), checked by its ACK.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Failures configuring a link.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// An interface does not exist.
    #[error(
        "network interface '{0}' does not exist (create the bridge first, e.g. `ip link add {0} type bridge`)"
    )]
    NoSuchInterface(String),
    /// The netlink socket failed.
    #[error("netlink: {0}")]
    Io(#[from] std::io::Error),
    /// The kernel refused the request.
    #[error("attaching '{tap}' to bridge '{bridge}' failed: {source}")]
    Refused {
        /// The tap.
        tap: String,
        /// The bridge.
        bridge: String,
        /// The kernel's errno.
        #[source]
        source: std::io::Error,
    },
}

fn ifindex(name: &str) -> Result<u32, NetlinkError> {
    let c = std::ffi::CString::new(name).map_err(|_| NetlinkError::NoSuchInterface(name.into()))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(NetlinkError::NoSuchInterface(name.into())),
        i => Ok(i),
    }
}

const NLMSG_HDR: usize = 16;
const IFINFO: usize = 16;

/// Enslaves `tap` to `bridge` and sets it up.
pub fn attach_to_bridge(tap: &str, bridge: &str) -> Result<(), NetlinkError> {
    let tap_idx = ifindex(tap)?;
    let br_idx = ifindex(bridge)?;
    // nlmsghdr | ifinfomsg | rtattr(IFLA_MASTER, u32)
    let len = NLMSG_HDR + IFINFO + 8;
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel fills it
    msg.push(libc::AF_UNSPEC as u8);
    msg.push(0);
    msg.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    msg.extend_from_slice(&(tap_idx as i32).to_ne_bytes());
    msg.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_flags
    msg.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_change
    msg.extend_from_slice(&8u16.to_ne_bytes());
    msg.extend_from_slice(&libc::IFLA_MASTER.to_ne_bytes());
    msg.extend_from_slice(&br_idx.to_ne_bytes());

    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `raw` is a fresh fd nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: `msg` is a valid buffer of `msg.len()` bytes; a null address sends to the kernel.
    let sent = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if sent < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let mut reply = [0u8; 1024];
    // SAFETY: `reply` is a writable buffer of the given length.
    let n = unsafe { libc::recv(sock.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
    if n < (NLMSG_HDR + 4) as isize {
        return Err(std::io::Error::last_os_error().into());
    }
    // NLMSG_ERROR carries an errno (0 = ACK) right after the header.
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    let errno = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
    if kind == libc::NLMSG_ERROR as u16 && errno != 0 {
        return Err(NetlinkError::Refused {
            tap: tap.into(),
            bridge: bridge.into(),
            source: std::io::Error::from_raw_os_error(-errno),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bridge_is_named() {
        let e = attach_to_bridge("lo", "rxl-no-such-br0").unwrap_err();
        assert!(
            e.to_string().contains("'rxl-no-such-br0' does not exist"),
            "{e}"
        );
    }
}
