//! `rxenstore`: drop-in for Debian's xenstore-read/-write/-ls/-list/-rm/-chmod/-exists/
//! -watch, same arguments, output and exit codes (see xen's `xenstore_client.c`).
//!
//! Invoke as `rxenstore MODE ...`, or through a link named `xenstore-MODE` or
//! `rxenstore-MODE`.

pub mod escape;
mod ls;

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::client::{Client, ClientError, Transaction};
use crate::wire::{Perm, PermKind, Perms, XsErrno};

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "rxenstore",
    version,
    about = "xenstore command-line tools (rxl)"
)]
pub struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Print values (xenstore-read).
    Read {
        /// Prefix each value with its key.
        #[arg(short = 'p', long)]
        prefix: bool,
        /// Print raw bytes, no quoting, no newline.
        #[arg(short = 'R', long)]
        raw: bool,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Write values (xenstore-write): KEY VALUE [KEY VALUE...].
    Write {
        /// Write the value as given, without backslash escapes.
        #[arg(short = 'R', long)]
        raw: bool,
        #[arg(required = true)]
        pairs: Vec<String>,
    },
    /// Print a subtree (xenstore-ls).
    Ls {
        /// One line per node, with its full path.
        #[arg(short = 'f', long)]
        flat: bool,
        /// Show permissions.
        #[arg(short = 'p', long)]
        prefix: bool,
        /// Recursive (always; accepted for clarity).
        #[arg(short = 'r')]
        _recursive: bool,
        path: Option<String>,
    },
    /// List children (xenstore-list).
    List {
        /// Print full paths.
        #[arg(short = 'p', long)]
        prefix: bool,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Remove nodes (xenstore-rm).
    Rm {
        /// Also remove parents left empty and valueless.
        #[arg(short = 't', long)]
        tidy: bool,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Create nodes (no xenstore-utils equivalent).
    Mkdir {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Introduce a domain to xenstored: DOMID GFN PORT (what libxl does at domain creation;
    /// no xenstore-utils equivalent). On Xen the daemon connects the ring first, so this
    /// fails if the page cannot be mapped or the event channel bound.
    Introduce {
        domid: u32,
        /// Frame of the domain's xenstore page (signed, as libxl sends it).
        #[arg(allow_hyphen_values = true)]
        gfn: i64,
        /// The domain's xenstore event channel.
        port: u32,
    },
    /// Print T if DOMID is introduced, else F (no xenstore-utils equivalent).
    IsIntroduced { domid: u32 },
    /// Exit 0 if every key exists, else 1 (xenstore-exists).
    Exists {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Set permissions (xenstore-chmod): KEY MODE... with MODE like r0, b5, n7, w3.
    Chmod {
        /// Apply to every parent up to the root too.
        #[arg(short = 'u', long)]
        upto: bool,
        /// Apply to every child too.
        #[arg(short = 'r', long)]
        recurse: bool,
        key: String,
        #[arg(required = true)]
        modes: Vec<String>,
    },
    /// Print changed paths (xenstore-watch).
    Watch {
        /// Stop after NR events (the initial one included).
        #[arg(short = 'n', long)]
        number: Option<i64>,
        /// Watch depth (0 = the node only).
        #[arg(short = 'd', long)]
        depth: Option<u32>,
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

/// Turns `xenstore-read a` / `rxenstore-read a` into `rxenstore read a`.
pub fn normalise_args(mut args: Vec<String>) -> Vec<String> {
    let base = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    if let Some(mode) = base
        .strip_prefix("xenstore-")
        .or_else(|| base.strip_prefix("rxenstore-"))
    {
        args.insert(1, mode.to_string());
    }
    args
}

/// A failure that ends the command: message for stderr (may be empty) and exit code.
struct Fail(String, u8);

fn xs_fail(e: ClientError, what: String) -> Fail {
    Fail(format!("{what}: {e}"), 1)
}

/// Runs the tool; returns the exit code.
pub fn run(args: Vec<String>) -> u8 {
    let args = normalise_args(args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let client = match Client::open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rxenstore: {e}");
            return 1;
        }
    };
    let mut stdout = std::io::stdout().lock();
    match execute(&client, cli.mode, &mut stdout) {
        Ok(()) => 0,
        Err(Fail(msg, code)) => {
            let _ = stdout.flush();
            if !msg.is_empty() {
                eprintln!("rxenstore: {msg}");
            }
            code
        }
    }
}

/// Runs `body` in a transaction when `transactional`, retrying on EAGAIN like
/// xenstore_client.c; output is produced only once the transaction committed.
fn in_txn(
    client: &Client,
    transactional: bool,
    mut body: impl FnMut(Option<&Transaction<'_>>, &mut Vec<u8>) -> Result<(), Fail>,
) -> Result<Vec<u8>, Fail> {
    if !transactional {
        let mut out = Vec::new();
        body(None, &mut out)?;
        return Ok(out);
    }
    loop {
        let tx = client
            .transaction_start()
            .map_err(|_| Fail("couldn't start transaction".into(), 1))?;
        let mut out = Vec::new();
        let r = body(Some(&tx), &mut out);
        let failed = r.is_err();
        let end = if failed { tx.abort() } else { tx.commit() };
        match (r, end) {
            (Err(f), _) => return Err(f),
            (Ok(()), Ok(())) => return Ok(out),
            (Ok(()), Err(ClientError::Xs(XsErrno::EAGAIN))) => continue,
            (Ok(()), Err(_)) => return Err(Fail("couldn't end transaction".into(), 1)),
        }
    }
}

fn read(client: &Client, tx: Option<&Transaction<'_>>, p: &str) -> Result<Vec<u8>, ClientError> {
    match tx {
        Some(t) => t.read(p),
        None => client.read(p),
    }
}

fn directory(
    client: &Client,
    tx: Option<&Transaction<'_>>,
    p: &str,
) -> Result<Vec<String>, ClientError> {
    match tx {
        Some(t) => t.directory(p),
        None => client.directory(p),
    }
}

fn parse_mode(m: &str) -> Result<Perm, Fail> {
    let kind = match m.chars().next() {
        Some('n') => PermKind::None,
        Some('r') => PermKind::Read,
        Some('w') => PermKind::Write,
        Some('b') => PermKind::Both,
        other => {
            return Err(Fail(
                format!(
                    "Invalid permission specification: '{}'",
                    other.unwrap_or(' ')
                ),
                1,
            ));
        }
    };
    // atoi(): leading digits, anything else is 0.
    let digits: String = m[1..].chars().take_while(char::is_ascii_digit).collect();
    Ok(Perm {
        kind,
        domid: digits.parse().unwrap_or(0),
    })
}

fn execute(client: &Client, mode: Mode, stdout: &mut dyn Write) -> Result<(), Fail> {
    let out = match mode {
        Mode::Read { prefix, raw, keys } => in_txn(client, keys.len() > 1, |tx, out| {
            for k in &keys {
                let v =
                    read(client, tx, k).map_err(|_| Fail(format!("couldn't read path {k}"), 1))?;
                if prefix {
                    out.extend_from_slice(format!("{k}: ").as_bytes());
                }
                if raw {
                    out.extend_from_slice(&v);
                } else {
                    out.extend_from_slice(escape::sanitise(&v).as_bytes());
                    out.push(b'\n');
                }
            }
            Ok(())
        })?,
        Mode::Write { raw, pairs } => {
            if pairs.len() % 2 == 1 {
                return Err(Fail(
                    "usage: rxenstore write [-R] key value [key value...]".into(),
                    1,
                ));
            }
            in_txn(client, pairs.len() > 2, |tx, _| {
                for kv in pairs.chunks(2) {
                    let v = if raw {
                        kv[1].as_bytes().to_vec()
                    } else {
                        escape::unsanitise(&kv[1])
                    };
                    let r = match tx {
                        Some(t) => t.write(&kv[0], &v),
                        None => client.write(&kv[0], &v),
                    };
                    r.map_err(|_| Fail(format!("could not write path {}", kv[0]), 1))?;
                }
                Ok(())
            })?
        }
        Mode::Ls {
            flat, prefix, path, ..
        } => {
            let path = path.unwrap_or_else(|| "/".into());
            return ls::ls(client, &path, flat, prefix, stdout).map_err(|e| Fail(e, 1));
        }
        Mode::List { prefix, keys } => in_txn(client, true, |tx, out| {
            for k in &keys {
                let list = directory(client, tx, k)
                    .map_err(|_| Fail(format!("could not list path {k}"), 1))?;
                let pref = if k == "/" { "" } else { k.as_str() };
                for c in list {
                    if prefix {
                        out.extend_from_slice(format!("{pref}/").as_bytes());
                    }
                    out.extend_from_slice(format!("{c}\n").as_bytes());
                }
            }
            Ok(())
        })?,
        Mode::Rm { tidy, keys } => in_txn(client, true, |tx, _| {
            let tx = tx.ok_or_else(|| Fail("no transaction".into(), 1))?;
            for k in &keys {
                let mut p = k.clone();
                loop {
                    tx.rm(&p)
                        .map_err(|_| Fail(format!("could not remove path {p}"), 1))?;
                    if !tidy {
                        break;
                    }
                    let Some(i) = p.rfind('/') else { break };
                    p.truncate(i);
                    let empty_value = tx.read(&p).is_ok_and(|v| v.is_empty());
                    if !(empty_value && tx.directory(&p).is_ok_and(|c| c.is_empty())) {
                        break;
                    }
                }
            }
            Ok(())
        })?,
        Mode::Mkdir { keys } => {
            for k in &keys {
                client
                    .mkdir(k)
                    .map_err(|e| xs_fail(e, format!("could not create path {k}")))?;
            }
            Vec::new()
        }
        Mode::Introduce { domid, gfn, port } => {
            client
                .introduce(domid, gfn, port)
                .map_err(|e| xs_fail(e, format!("could not introduce domain {domid}")))?;
            Vec::new()
        }
        Mode::IsIntroduced { domid } => {
            let yes = client
                .is_domain_introduced(domid)
                .map_err(|e| xs_fail(e, format!("could not ask about domain {domid}")))?;
            if yes {
                b"T\n".to_vec()
            } else {
                b"F\n".to_vec()
            }
        }
        Mode::Exists { keys } => in_txn(client, true, |tx, _| {
            for k in &keys {
                read(client, tx, k).map_err(|_| Fail(String::new(), 1))?;
            }
            Ok(())
        })?,
        Mode::Chmod {
            upto,
            recurse,
            key,
            modes,
        } => {
            let list = modes
                .iter()
                .map(|m| parse_mode(m))
                .collect::<Result<Vec<_>, _>>()?;
            let perms = Perms::new(list).ok_or_else(|| Fail("no permissions given".into(), 1))?;
            in_txn(client, true, |tx, _| {
                let tx = tx.ok_or_else(|| Fail("no transaction".into(), 1))?;
                chmod(tx, &key, &perms, upto, recurse)
            })?
        }
        Mode::Watch {
            number,
            depth,
            keys,
        } => {
            let mut rx = Vec::new();
            for k in &keys {
                let r = match depth {
                    Some(d) => client.watch_depth(k, k, d),
                    None => client.watch(k, k),
                };
                rx.push(r.map_err(|_| Fail(format!("Unable to add watch on {k}"), 1))?);
            }
            let mut sel = crossbeam_channel::Select::new();
            for r in &rx {
                sel.recv(r);
            }
            let mut count = 0i64;
            while number.is_none_or(|n| n < 0 || count < n) {
                let op = sel.select();
                let i = op.index();
                let Ok(ev) = op.recv(&rx[i]) else {
                    return Err(Fail("xenstore connection lost".into(), 1));
                };
                let _ = writeln!(stdout, "{}", ev.path);
                let _ = stdout.flush();
                count += 1;
            }
            Vec::new()
        }
    };
    let _ = stdout.write_all(&out);
    Ok(())
}

fn chmod(
    tx: &Transaction<'_>,
    path: &str,
    perms: &Perms,
    upto: bool,
    recurse: bool,
) -> Result<(), Fail> {
    if path.is_empty() {
        return Ok(());
    }
    tx.set_perms(path, perms).map_err(|e| {
        Fail(
            format!("Error occurred setting permissions on '{path}': {e}"),
            1,
        )
    })?;
    if upto {
        let i = path.rfind('/').ok_or_else(|| {
            Fail(
                format!("Unable to locate path separator '/' in '{path}'"),
                1,
            )
        })?;
        chmod(tx, &path[..i], perms, true, false)?;
    }
    if recurse {
        // Iterative, so deep trees cannot exhaust the stack.
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            for c in tx.directory(&p).unwrap_or_default() {
                let child = format!("{p}/{c}");
                tx.set_perms(&child, perms).map_err(|e| {
                    Fail(
                        format!("Error occurred setting permissions on '{child}': {e}"),
                        1,
                    )
                })?;
                stack.push(child);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv0_selects_mode() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalise_args(v(&["/usr/bin/xenstore-read", "/a"])),
            v(&["/usr/bin/xenstore-read", "read", "/a"])
        );
        assert_eq!(
            normalise_args(v(&["rxenstore", "ls"])),
            v(&["rxenstore", "ls"])
        );
        assert!(
            Cli::try_parse_from(v(&["rxenstore", "read"])).is_err(),
            "key required"
        );
        assert!(Cli::try_parse_from(v(&["rxenstore", "chmod", "/a", "r0", "b5"])).is_ok());
    }

    #[test]
    fn modes_parse_like_atoi() {
        assert_eq!(
            parse_mode("b5").ok().unwrap(),
            Perm {
                kind: PermKind::Both,
                domid: 5
            }
        );
        assert_eq!(
            parse_mode("rx").ok().unwrap(),
            Perm {
                kind: PermKind::Read,
                domid: 0
            }
        );
        assert!(parse_mode("q1").is_err());
    }
}
