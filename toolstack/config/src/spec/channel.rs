//! The channel spec (`channel=[...]`, xl.cfg(5) and docs/misc/channel.txt), as
//! xl's `parse_config_data` reads it: `key=value` pairs, both sides trimmed of
//! blanks, no quoting (values cannot contain `,`).
//!
//! Like xl: a pair without `=` or with an empty value is an error, `connection`
//! is mandatory, and `socket` needs `path=`. Unlike xl, an unknown key is an error
//! with a "did you mean" hint (xl warns and ignores it).

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind};
use super::fields;
use serde::Serialize;

/// How the backend end of the channel is exposed (libxl's keyed union `u`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelConnection {
    /// A pty in the backend domain.
    Pty,
    /// A listening Unix socket at `path`.
    Socket {
        /// `path=`.
        path: String,
    },
}

/// A parsed channel spec, libxl's `libxl_device_channel`. Serialized as libxl
/// does: `"connection.pty": {}` or `"connection.socket": {"path": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// `backend=` (driver domain).
    pub backend_domname: Option<String>,
    /// `name=`: the name the guest sees (e.g. `org.qemu.guest_agent.0`).
    pub name: Option<String>,
    /// `connection=` and its parameters.
    pub connection: ChannelConnection,
}

impl Serialize for ChannelSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if let Some(b) = &self.backend_domname {
            m.serialize_entry("backend_domname", b)?;
        }
        if let Some(n) = &self.name {
            m.serialize_entry("name", n)?;
        }
        // libxl writes a keyed union as one key "<keyvar>.<case>" holding the
        // case's fields.
        match &self.connection {
            ChannelConnection::Pty => {
                m.serialize_entry(
                    "connection.pty",
                    &std::collections::BTreeMap::<&str, &str>::new(),
                )?;
            }
            ChannelConnection::Socket { path } => {
                let mut u = std::collections::BTreeMap::new();
                u.insert("path", path);
                m.serialize_entry("connection.socket", &u)?;
            }
        }
        m.end()
    }
}

const KNOWN: &[&str] = &["backend", "name", "path", "connection"];

/// Parses one channel spec string (one element of `channel=[...]`).
pub fn parse(spec: &str) -> Result<Parsed<ChannelSpec>, SpecError> {
    let err = |kind, at: usize, expected: &str, found: &str| {
        SpecError::new(SpecKind::Channel, kind, spec, at, expected, found)
    };
    let (mut backend, mut name, mut path, mut connection) = (None, None, None, None);
    let mut start = 0;
    // Why not fields::split_fields: xl does not strip blanks before the `=` check
    // here, it trims both halves afterwards. Empty pieces vanish (strtok) as there.
    for piece in spec.split(',') {
        let at = start;
        start += piece.len() + 1;
        if piece.is_empty() {
            continue;
        }
        let Some((k, v)) = piece.split_once('=') else {
            return Err(err(SpecErrorKind::Syntax, at, "`key=value`", piece)
                .hint("e.g. `name=org.example.0,connection=pty`"));
        };
        let key_at = at + (k.len() - k.trim_start().len());
        let value_at = at + k.len() + 1 + (v.len() - v.trim_start().len());
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(err(
                SpecErrorKind::Syntax,
                at,
                "`key=value` with both sides non-empty",
                piece,
            ));
        }
        match k {
            "backend" => backend = Some(v.to_string()),
            "name" => name = Some(v.to_string()),
            "path" => path = Some((v.to_string(), value_at)),
            "connection" => {
                connection = Some(match v {
                    "pty" => "pty",
                    "socket" => "socket",
                    _ => {
                        return Err(err(
                            SpecErrorKind::InvalidValue,
                            value_at,
                            "connection pty or socket",
                            v,
                        ));
                    }
                });
            }
            _ => {
                return Err(fields::unknown_key(
                    SpecKind::Channel,
                    spec,
                    key_at,
                    k,
                    KNOWN,
                ));
            }
        }
    }
    let connection = match connection {
        None => {
            return Err(err(
                SpecErrorKind::Missing,
                spec.len(),
                "`connection=pty` or `connection=socket`",
                "",
            )
            .hint("add `connection=pty`"));
        }
        Some("pty") => ChannelConnection::Pty,
        Some(_) => match path {
            Some((path, _)) => ChannelConnection::Socket { path },
            None => {
                return Err(err(
                    SpecErrorKind::Missing,
                    spec.len(),
                    "`path=` for connection=socket",
                    "",
                )
                .hint("add `path=/run/xen/NAME.sock`"));
            }
        },
    };
    Ok(Parsed::clean(ChannelSpec {
        backend_domname: backend,
        name,
        connection,
    }))
}
