//! Typed request payloads: what each request type carries, parsed and built.

use super::errno::XsErrno;
use super::msg::{MsgType, join_strings};
use super::perm::Perms;

/// A parsed request payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `CONTROL cmd [args]`.
    Control {
        /// Command and arguments.
        args: Vec<Vec<u8>>,
    },
    /// `DIRECTORY path`.
    Directory {
        /// Node path.
        path: String,
    },
    /// `READ path`.
    Read {
        /// Node path.
        path: String,
    },
    /// `GET_PERMS path`.
    GetPerms {
        /// Node path.
        path: String,
    },
    /// `WATCH path token [depth]`.
    Watch {
        /// Watched path.
        path: String,
        /// Client's token, echoed in events.
        token: String,
        /// Optional depth limit (feature bit 4).
        depth: Option<u32>,
    },
    /// `UNWATCH path token`.
    Unwatch {
        /// Watched path.
        path: String,
        /// Token given to WATCH.
        token: String,
    },
    /// `TRANSACTION_START`.
    TransactionStart,
    /// `TRANSACTION_END T|F`.
    TransactionEnd {
        /// `true` commits, `false` aborts.
        commit: bool,
    },
    /// `INTRODUCE domid gfn evtchn`.
    Introduce {
        /// Domain.
        domid: u32,
        /// Frame of the ring page (signed decimal on the wire).
        gfn: i64,
        /// The domain's event channel port for xenstore.
        evtchn: u32,
    },
    /// `RELEASE domid`.
    Release {
        /// Domain.
        domid: u32,
    },
    /// `GET_DOMAIN_PATH domid`.
    GetDomainPath {
        /// Domain.
        domid: u32,
    },
    /// `WRITE path value`.
    Write {
        /// Node path.
        path: String,
        /// Raw value, no trailing NUL.
        value: Vec<u8>,
    },
    /// `MKDIR path`.
    Mkdir {
        /// Node path.
        path: String,
    },
    /// `RM path`.
    Rm {
        /// Node path.
        path: String,
    },
    /// `SET_PERMS path perm...`.
    SetPerms {
        /// Node path.
        path: String,
        /// New list, owner first.
        perms: Perms,
    },
    /// `IS_DOMAIN_INTRODUCED domid`.
    IsDomainIntroduced {
        /// Domain.
        domid: u32,
    },
    /// `RESUME domid`.
    Resume {
        /// Domain.
        domid: u32,
    },
    /// `SET_TARGET domid tdomid`.
    SetTarget {
        /// Domain gaining rights.
        domid: u32,
        /// Domain whose rights it gains.
        target: u32,
    },
    /// `RESET_WATCHES`.
    ResetWatches,
    /// `DIRECTORY_PART path offset`.
    DirectoryPart {
        /// Node path.
        path: String,
        /// Byte offset into the NUL-joined child list.
        offset: u32,
    },
    /// `GET_FEATURE [domid]`.
    GetFeature {
        /// Domain, or the server's own features.
        domid: Option<u32>,
    },
    /// `SET_FEATURE domid value`.
    SetFeature {
        /// Domain.
        domid: u32,
        /// Feature word.
        value: u32,
    },
    /// `GET_QUOTA [[domid] name]`.
    GetQuota {
        /// Domain, or the global value.
        domid: Option<u32>,
        /// Quota name; `None` lists the names.
        name: Option<String>,
    },
    /// `SET_QUOTA [domid] name value`.
    SetQuota {
        /// Domain, or the global value.
        domid: Option<u32>,
        /// Quota name.
        name: String,
        /// New value; 0 disables the check.
        value: u32,
    },
}

fn text(b: &[u8]) -> Result<String, XsErrno> {
    std::str::from_utf8(b)
        .map(str::to_string)
        .map_err(|_| XsErrno::EINVAL)
}

fn number<T: std::str::FromStr>(b: &[u8]) -> Result<T, XsErrno> {
    let s = std::str::from_utf8(b).map_err(|_| XsErrno::EINVAL)?;
    if s.is_empty()
        || !s
            .bytes()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == b'-'))
    {
        return Err(XsErrno::EINVAL);
    }
    s.parse().map_err(|_| XsErrno::EINVAL)
}

fn domid(b: &[u8]) -> Result<u32, XsErrno> {
    let d: u32 = number(b)?;
    if d > 0xffff {
        Err(XsErrno::EINVAL)
    } else {
        Ok(d)
    }
}

/// NUL-terminated arguments; the payload must end with a NUL.
fn args(payload: &[u8]) -> Result<Vec<&[u8]>, XsErrno> {
    match payload.strip_suffix(&[0]) {
        Some(body) => Ok(body.split(|b| *b == 0).collect()),
        None if payload.is_empty() => Ok(Vec::new()),
        None => Err(XsErrno::EINVAL),
    }
}

fn exactly<const N: usize>(payload: &[u8]) -> Result<[&[u8]; N], XsErrno> {
    args(payload)?.try_into().map_err(|_| XsErrno::EINVAL)
}

impl Request {
    /// Parses the payload of a request of raw type `ty`. Unknown or server-only
    /// types give `ENOSYS`; malformed payloads `EINVAL`.
    pub fn decode(ty: u32, payload: &[u8]) -> Result<Request, XsErrno> {
        let Some(t) = MsgType::from_u32(ty) else {
            return Err(XsErrno::ENOSYS);
        };
        let path = |p: &[u8]| -> Result<String, XsErrno> {
            let [a] = exactly::<1>(p)?;
            text(a)
        };
        Ok(match t {
            MsgType::Control => {
                let a = args(payload)?;
                if a.is_empty() || a[0].is_empty() {
                    return Err(XsErrno::EINVAL);
                }
                Request::Control {
                    args: a.into_iter().map(<[u8]>::to_vec).collect(),
                }
            }
            MsgType::Directory => Request::Directory {
                path: path(payload)?,
            },
            MsgType::Read => Request::Read {
                path: path(payload)?,
            },
            MsgType::GetPerms => Request::GetPerms {
                path: path(payload)?,
            },
            MsgType::Watch => {
                let a = args(payload)?;
                match a.as_slice() {
                    [p, t] => Request::Watch {
                        path: text(p)?,
                        token: text(t)?,
                        depth: None,
                    },
                    [p, t, d] => Request::Watch {
                        path: text(p)?,
                        token: text(t)?,
                        depth: Some(number(d)?),
                    },
                    _ => return Err(XsErrno::EINVAL),
                }
            }
            MsgType::Unwatch => {
                let [p, t] = exactly::<2>(payload)?;
                Request::Unwatch {
                    path: text(p)?,
                    token: text(t)?,
                }
            }
            MsgType::TransactionStart => match payload {
                b"" | b"\0" => Request::TransactionStart,
                _ => return Err(XsErrno::EINVAL),
            },
            MsgType::TransactionEnd => match payload {
                b"T\0" => Request::TransactionEnd { commit: true },
                b"F\0" => Request::TransactionEnd { commit: false },
                _ => return Err(XsErrno::EINVAL),
            },
            MsgType::Introduce => {
                let [d, g, e] = exactly::<3>(payload)?;
                Request::Introduce {
                    domid: domid(d)?,
                    gfn: number(g)?,
                    evtchn: number(e)?,
                }
            }
            MsgType::Release => Request::Release {
                domid: domid(exactly::<1>(payload)?[0])?,
            },
            MsgType::GetDomainPath => Request::GetDomainPath {
                domid: domid(exactly::<1>(payload)?[0])?,
            },
            MsgType::Write => {
                let nul = payload
                    .iter()
                    .position(|b| *b == 0)
                    .ok_or(XsErrno::EINVAL)?;
                Request::Write {
                    path: text(&payload[..nul])?,
                    value: payload[nul + 1..].to_vec(),
                }
            }
            MsgType::Mkdir => Request::Mkdir {
                path: path(payload)?,
            },
            MsgType::Rm => Request::Rm {
                path: path(payload)?,
            },
            MsgType::SetPerms => {
                let a = args(payload)?;
                if a.len() < 2 {
                    return Err(XsErrno::EINVAL);
                }
                let items = a[1..]
                    .iter()
                    .map(|s| std::str::from_utf8(s))
                    .collect::<Result<Vec<_>, _>>();
                let perms = Perms::parse(items.map_err(|_| XsErrno::EINVAL)?)
                    .map_err(|_| XsErrno::EINVAL)?;
                Request::SetPerms {
                    path: text(a[0])?,
                    perms,
                }
            }
            MsgType::IsDomainIntroduced => Request::IsDomainIntroduced {
                domid: domid(exactly::<1>(payload)?[0])?,
            },
            MsgType::Resume => Request::Resume {
                domid: domid(exactly::<1>(payload)?[0])?,
            },
            MsgType::SetTarget => {
                let [d, t] = exactly::<2>(payload)?;
                Request::SetTarget {
                    domid: domid(d)?,
                    target: domid(t)?,
                }
            }
            MsgType::ResetWatches => match payload {
                b"" | b"\0" => Request::ResetWatches,
                _ => return Err(XsErrno::EINVAL),
            },
            MsgType::DirectoryPart => {
                let [p, o] = exactly::<2>(payload)?;
                Request::DirectoryPart {
                    path: text(p)?,
                    offset: number(o)?,
                }
            }
            MsgType::GetFeature => match args(payload)?.as_slice() {
                [] => Request::GetFeature { domid: None },
                [d] => Request::GetFeature {
                    domid: Some(domid(d)?),
                },
                _ => return Err(XsErrno::EINVAL),
            },
            MsgType::SetFeature => {
                let [d, v] = exactly::<2>(payload)?;
                Request::SetFeature {
                    domid: domid(d)?,
                    value: number(v)?,
                }
            }
            MsgType::GetQuota => match args(payload)?.as_slice() {
                [] => Request::GetQuota {
                    domid: None,
                    name: None,
                },
                [n] => Request::GetQuota {
                    domid: None,
                    name: Some(text(n)?),
                },
                [d, n] => Request::GetQuota {
                    domid: Some(domid(d)?),
                    name: Some(text(n)?),
                },
                _ => return Err(XsErrno::EINVAL),
            },
            MsgType::SetQuota => match args(payload)?.as_slice() {
                [n, v] => Request::SetQuota {
                    domid: None,
                    name: text(n)?,
                    value: number(v)?,
                },
                [d, n, v] => Request::SetQuota {
                    domid: Some(domid(d)?),
                    name: text(n)?,
                    value: number(v)?,
                },
                _ => return Err(XsErrno::EINVAL),
            },
            MsgType::WatchEvent | MsgType::Error => return Err(XsErrno::EINVAL),
        })
    }

    /// The request's type and payload, as a client sends them.
    pub fn encode(&self) -> (MsgType, Vec<u8>) {
        let s = |v: &[&str]| join_strings(v.iter().map(|x| x.as_bytes()));
        match self {
            Request::Control { args } => (MsgType::Control, join_strings(args)),
            Request::Directory { path } => (MsgType::Directory, s(&[path])),
            Request::Read { path } => (MsgType::Read, s(&[path])),
            Request::GetPerms { path } => (MsgType::GetPerms, s(&[path])),
            Request::Watch {
                path,
                token,
                depth: None,
            } => (MsgType::Watch, s(&[path, token])),
            Request::Watch {
                path,
                token,
                depth: Some(d),
            } => (MsgType::Watch, s(&[path, token, &d.to_string()])),
            Request::Unwatch { path, token } => (MsgType::Unwatch, s(&[path, token])),
            Request::TransactionStart => (MsgType::TransactionStart, vec![0]),
            Request::TransactionEnd { commit } => (
                MsgType::TransactionEnd,
                s(&[if *commit { "T" } else { "F" }]),
            ),
            Request::Introduce { domid, gfn, evtchn } => (
                MsgType::Introduce,
                s(&[&domid.to_string(), &gfn.to_string(), &evtchn.to_string()]),
            ),
            Request::Release { domid } => (MsgType::Release, s(&[&domid.to_string()])),
            Request::GetDomainPath { domid } => (MsgType::GetDomainPath, s(&[&domid.to_string()])),
            Request::Write { path, value } => {
                let mut p = s(&[path]);
                p.extend_from_slice(value);
                (MsgType::Write, p)
            }
            Request::Mkdir { path } => (MsgType::Mkdir, s(&[path])),
            Request::Rm { path } => (MsgType::Rm, s(&[path])),
            Request::SetPerms { path, perms } => {
                let mut p = s(&[path]);
                p.extend(join_strings(perms.to_strings()));
                (MsgType::SetPerms, p)
            }
            Request::IsDomainIntroduced { domid } => {
                (MsgType::IsDomainIntroduced, s(&[&domid.to_string()]))
            }
            Request::Resume { domid } => (MsgType::Resume, s(&[&domid.to_string()])),
            Request::SetTarget { domid, target } => (
                MsgType::SetTarget,
                s(&[&domid.to_string(), &target.to_string()]),
            ),
            Request::ResetWatches => (MsgType::ResetWatches, vec![0]),
            Request::DirectoryPart { path, offset } => {
                (MsgType::DirectoryPart, s(&[path, &offset.to_string()]))
            }
            Request::GetFeature { domid: None } => (MsgType::GetFeature, Vec::new()),
            Request::GetFeature { domid: Some(d) } => (MsgType::GetFeature, s(&[&d.to_string()])),
            Request::SetFeature { domid, value } => (
                MsgType::SetFeature,
                s(&[&domid.to_string(), &value.to_string()]),
            ),
            Request::GetQuota { domid, name } => {
                let mut v = Vec::new();
                if let Some(d) = domid {
                    v.push(d.to_string());
                }
                if let Some(n) = name {
                    v.push(n.clone());
                }
                (MsgType::GetQuota, join_strings(v))
            }
            Request::SetQuota { domid, name, value } => {
                let mut v = Vec::new();
                if let Some(d) = domid {
                    v.push(d.to_string());
                }
                v.push(name.clone());
                v.push(value.to_string());
                (MsgType::SetQuota, join_strings(v))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: Request) {
        let (ty, payload) = r.encode();
        assert_eq!(Request::decode(ty as u32, &payload).unwrap(), r);
    }

    #[test]
    fn every_request_round_trips() {
        let perms = Perms::parse(["r0", "b5"]).unwrap();
        for r in [
            Request::Control {
                args: vec![b"help".to_vec()],
            },
            Request::Directory { path: "/a".into() },
            Request::Read { path: "/a".into() },
            Request::GetPerms { path: "/a".into() },
            Request::Watch {
                path: "/a".into(),
                token: "t".into(),
                depth: None,
            },
            Request::Watch {
                path: "/a".into(),
                token: "t".into(),
                depth: Some(1),
            },
            Request::Unwatch {
                path: "/a".into(),
                token: "t".into(),
            },
            Request::TransactionStart,
            Request::TransactionEnd { commit: true },
            Request::TransactionEnd { commit: false },
            Request::Introduce {
                domid: 5,
                gfn: -1,
                evtchn: 3,
            },
            Request::Release { domid: 5 },
            Request::GetDomainPath { domid: 5 },
            Request::Write {
                path: "/a".into(),
                value: b"x\0y".to_vec(),
            },
            Request::Mkdir { path: "/a".into() },
            Request::Rm { path: "/a".into() },
            Request::SetPerms {
                path: "/a".into(),
                perms,
            },
            Request::IsDomainIntroduced { domid: 1 },
            Request::Resume { domid: 1 },
            Request::SetTarget {
                domid: 1,
                target: 2,
            },
            Request::ResetWatches,
            Request::DirectoryPart {
                path: "/a".into(),
                offset: 10,
            },
            Request::GetFeature { domid: None },
            Request::GetFeature { domid: Some(3) },
            Request::SetFeature { domid: 3, value: 1 },
            Request::GetQuota {
                domid: None,
                name: None,
            },
            Request::GetQuota {
                domid: None,
                name: Some("nodes".into()),
            },
            Request::GetQuota {
                domid: Some(2),
                name: Some("nodes".into()),
            },
            Request::SetQuota {
                domid: None,
                name: "nodes".into(),
                value: 4,
            },
            Request::SetQuota {
                domid: Some(2),
                name: "nodes".into(),
                value: 4,
            },
        ] {
            round_trip(r);
        }
    }

    #[test]
    fn write_value_has_no_trailing_nul() {
        let (ty, p) = Request::Write {
            path: "/vm/name".into(),
            value: b"v".to_vec(),
        }
        .encode();
        assert_eq!(ty, MsgType::Write);
        assert_eq!(p, b"/vm/name\0v");
        // Matches the bytes xenstore-read sends (notes §11).
        let (ty, p) = Request::Read {
            path: "/vm/name".into(),
        }
        .encode();
        assert_eq!((ty as u32, p.as_slice()), (2, &b"/vm/name\0"[..]));
    }

    #[test]
    fn malformed_payloads_are_einval_unknown_types_enosys() {
        assert_eq!(Request::decode(2, b"/a"), Err(XsErrno::EINVAL));
        assert_eq!(Request::decode(2, b"/a\0/b\0"), Err(XsErrno::EINVAL));
        assert_eq!(Request::decode(7, b"X\0"), Err(XsErrno::EINVAL));
        assert_eq!(Request::decode(9, b"70000\0"), Err(XsErrno::EINVAL));
        assert_eq!(Request::decode(14, b"/a\0q1\0"), Err(XsErrno::EINVAL));
        assert_eq!(Request::decode(20, b""), Err(XsErrno::ENOSYS));
        assert_eq!(Request::decode(0xffff, b""), Err(XsErrno::ENOSYS));
        assert_eq!(Request::decode(15, b"a\0b\0"), Err(XsErrno::EINVAL));
        assert_eq!(
            Request::decode(11, b"/a\0"),
            Ok(Request::Write {
                path: "/a".into(),
                value: vec![]
            })
        );
    }
}
