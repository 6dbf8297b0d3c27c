//! xenstore-ls output: indented tree, values quoted and cut to the terminal width.

use std::io::Write;

use super::escape::sanitise;
use crate::client::{Client, ClientError};
use crate::wire::XsErrno;

/// `" = \"...\""`: the room a truncated value needs.
const TAG_LEN: usize = 8;

fn terminal_width() -> Option<usize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the valid struct passed by pointer.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then(|| (ws.ws_col as usize).saturating_sub(2))
}

/// `%.*s` with C's rule that a negative precision means "no limit".
fn prec(s: &str, p: isize) -> &str {
    if p < 0 {
        s
    } else {
        &s[..s.len().min(p as usize)]
    }
}

struct Fmt {
    max_width: usize,
    desired_width: usize,
    whole_path: bool,
    perms: bool,
}

/// Prints the subtree below `path`.
pub fn ls(
    client: &Client,
    path: &str,
    flat: bool,
    perms: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
    let mut f = Fmt {
        max_width: 80,
        desired_width: 60,
        whole_path: false,
        perms,
    };
    if flat {
        f.max_width = (i32::MAX / 2) as usize;
        f.desired_width = 0;
        f.whole_path = true;
    } else if let Some(w) = terminal_width() {
        f.max_width = w;
    }
    // Depth-first with an explicit stack (children in order), so deep trees are fine.
    let top = client
        .directory(path)
        .map_err(|e| format!("xs_directory ({path}): {}", describe(&e)))?;
    let mut stack: Vec<(String, Vec<String>, usize)> = vec![(path.to_string(), top, 0)];
    while let Some((dir, children, depth)) = stack.pop() {
        let Some((first, rest)) = children.split_first() else {
            continue;
        };
        stack.push((dir.clone(), rest.to_vec(), depth));
        let newpath = format!("{dir}{}{first}", if dir.ends_with('/') { "" } else { "/" });
        line(client, &f, &newpath, first, depth, out);
        match client.directory(&newpath) {
            Ok(c) => stack.push((newpath, c, depth + 1)),
            Err(ClientError::Xs(XsErrno::ENOENT)) => {}
            Err(e) => return Err(format!("xs_directory ({newpath}): {}", describe(&e))),
        }
    }
    Ok(())
}

fn describe(e: &ClientError) -> String {
    match e.errno() {
        Some(x) => std::io::Error::from_raw_os_error(x.errno())
            .to_string()
            .split(" (os error")
            .next()
            .unwrap_or("")
            .to_string(),
        None => e.to_string(),
    }
}

fn line(client: &Client, f: &Fmt, newpath: &str, name: &str, depth: usize, out: &mut dyn Write) {
    let mut s = String::new();
    let mut linewid: isize = 0;
    if f.whole_path {
        s.push_str(newpath);
    } else {
        s.push_str(&" ".repeat(depth));
        linewid = depth as isize;
        let n = prec(name, f.max_width as isize - TAG_LEN as isize - linewid);
        s.push_str(n);
        linewid += n.len() as isize;
    }
    match client.read(newpath) {
        Err(_) => s.push_str(":\n"),
        Ok(val) => {
            let sv = sanitise(&val);
            if (f.max_width as isize) < linewid + val.len() as isize + TAG_LEN as isize {
                s.push_str(" = \"");
                s.push_str(prec(&sv, f.max_width as isize - TAG_LEN as isize - linewid));
                s.push_str("\\...\"");
            } else {
                let part = format!(" = \"{sv}\"");
                linewid += part.len() as isize;
                s.push_str(&part);
                if f.perms {
                    s.push(' ');
                    linewid += 1;
                    while linewid < f.desired_width.min(f.max_width) as isize {
                        s.push(if linewid & 1 == 1 { '.' } else { ' ' });
                        linewid += 1;
                    }
                }
            }
        }
    }
    if f.perms {
        match client.get_perms(newpath) {
            Ok(p) => {
                s.push_str("  (");
                s.push_str(&p.to_strings().join(","));
                s.push(')');
            }
            Err(e) => eprintln!(
                "rxenstore: \ncould not access permissions for {name}: {}",
                describe(&e)
            ),
        }
    }
    s.push('\n');
    let _ = out.write_all(s.as_bytes());
}
