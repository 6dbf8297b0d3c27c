//! Making room for a new guest, as xl's `freemem` does before `libxl_domain_create_new`: if Xen
//! has less free memory than the guest needs and xl.conf's `autoballoon` is in effect, lower
//! dom0's balloon target (`/local/domain/0/memory/target`, the node `rxl mem-set 0` writes) by
//! the shortfall and wait for dom0's balloon driver to hand the pages back to Xen.
//!
//! Like xl (`libxl_set_memory_target(..., enforce = 0)`), only the target moves: dom0's
//! hypervisor ceiling stays, so dom0 can balloon up again when the guest is gone.

use std::time::{Duration, Instant};

use rxl_xenstore::client::Client;

use super::error::{BuildError, at, xs_at};
use crate::control::{Control, MIN_DOM0_KIB};
use crate::dom0_mem::{self, Autoballoon};

/// How long dom0 may go without giving back a page before rxl gives up.
const STALL: Duration = Duration::from_secs(10);
/// The longest rxl waits for dom0 to reach its new target.
const DEADLINE: Duration = Duration::from_secs(60);

/// What [`make_room`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Xen had enough free memory.
    Enough,
    /// dom0's target went from `from_kib` to `to_kib`.
    Ballooned {
        /// dom0's target before, KiB.
        from_kib: u64,
        /// dom0's target now, KiB.
        to_kib: u64,
    },
}

/// Xen's free memory, KiB (free plus not yet scrubbed pages, as `libxl_get_free_memory`).
fn free_kib(ctl: &Control) -> Result<u64, BuildError> {
    let p = ctl.xen().physinfo().map_err(at("reading free memory"))?;
    Ok((p.free_pages + p.scrub_pages) * 4)
}

/// Reads xl.conf's `autoballoon` as it applies on this host.
fn autoballoon(ctl: &Control) -> Result<Autoballoon, BuildError> {
    let cmdline = ctl
        .xen()
        .version_info()
        .map_err(at("reading Xen's command line"))?
        .commandline;
    let text = match std::fs::read_to_string(dom0_mem::XL_CONF) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(BuildError::Config {
                key: "autoballoon",
                why: format!("{}: {e}", dom0_mem::XL_CONF),
            });
        }
    };
    dom0_mem::autoballoon_from(dom0_mem::XL_CONF, text.as_deref(), &cmdline).map_err(|why| {
        BuildError::Config {
            key: "autoballoon",
            why,
        }
    })
}

/// The new dom0 target that frees `missing_kib`, or why rxl may not balloon (advice for the
/// error). Pure: the policy, apart from the hypervisor.
pub fn decide(missing_kib: u64, ab: &Autoballoon, dom0_target_kib: u64) -> Result<u64, String> {
    let missing_mib = missing_kib.div_ceil(1024);
    if !ab.effective {
        let why = if ab.setting == "auto" {
            format!(
                "autoballoon is \"auto\" ({}) and Xen's command line has dom0_mem=, so rxl does \
                 not balloon dom0",
                ab.source
            )
        } else {
            format!("autoballoon is \"{}\" ({})", ab.setting, ab.source)
        };
        return Err(format!(
            "{why}; free {missing_mib} MiB with `rxl mem-set 0 <size>`, set autoballoon=\"on\" \
             in {}, lower `memory=`, or destroy a guest",
            dom0_mem::XL_CONF
        ));
    }
    let to = dom0_target_kib.saturating_sub(missing_kib);
    if to < MIN_DOM0_KIB {
        return Err(format!(
            "ballooning dom0 from {} MiB down by {missing_mib} MiB would leave it below rxl's \
             minimum of {} MiB; lower `memory=` or destroy a guest",
            dom0_target_kib / 1024,
            MIN_DOM0_KIB / 1024
        ));
    }
    Ok(to)
}

/// Ensures Xen has `need_kib` free, ballooning dom0 down if xl.conf allows it.
pub fn make_room(ctl: &Control, xs: &Client, need_kib: u64) -> Result<Room, BuildError> {
    let free = free_kib(ctl)?;
    if free >= need_kib {
        return Ok(Room::Enough);
    }
    let too_small = |free_kib: u64, advice: String| BuildError::HostTooSmall {
        need_kib,
        free_kib,
        missing_kib: need_kib.saturating_sub(free_kib),
        advice,
    };
    let ab = autoballoon(ctl)?;
    let target_path = "/local/domain/0/memory/target";
    // No (or an unreadable) target node: dom0 is as big as it is now.
    let current = match xs
        .read(target_path)
        .ok()
        .and_then(|v| String::from_utf8_lossy(&v).trim().parse::<u64>().ok())
    {
        Some(t) => t,
        None => {
            let d0 = ctl.xen().domain_info(0).map_err(at("reading dom0"))?;
            d0.current_memkb()
        }
    };
    let to = decide(need_kib - free, &ab, current).map_err(|advice| too_small(free, advice))?;
    tracing::info!(
        from_kib = current,
        to_kib = to,
        free_kib = free,
        need_kib,
        "autoballoon: lowering dom0's target"
    );
    xs.write(target_path, to.to_string().as_bytes())
        .map_err(xs_at("lowering dom0's memory target (autoballoon)"))?;

    let start = Instant::now();
    let (mut last, mut last_change) = (free, start);
    loop {
        let now = free_kib(ctl)?;
        if now >= need_kib {
            tracing::info!(ms = start.elapsed().as_millis() as u64, "autoballoon done");
            return Ok(Room::Ballooned {
                from_kib: current,
                to_kib: to,
            });
        }
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
        if last_change.elapsed() >= STALL || start.elapsed() >= DEADLINE {
            undo(
                xs,
                Room::Ballooned {
                    from_kib: current,
                    to_kib: to,
                },
            );
            return Err(too_small(
                now,
                format!(
                    "rxl lowered dom0's target from {} to {} MiB (autoballoon), but after {} s \
                     dom0 had given back only {} MiB (its target is restored); check dom0's \
                     balloon driver, or free memory with `rxl mem-set 0 <size>` first",
                    current / 1024,
                    to / 1024,
                    start.elapsed().as_secs(),
                    now.saturating_sub(free) / 1024
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Gives dom0 its target back after a failed create (the guest the room was for never ran).
pub fn undo(xs: &Client, room: Room) {
    if let Room::Ballooned { from_kib, .. } = room {
        if let Err(e) = xs.write(
            "/local/domain/0/memory/target",
            from_kib.to_string().as_bytes(),
        ) {
            tracing::warn!(error = %e, "could not restore dom0's memory target");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ab(setting: &str, effective: bool) -> Autoballoon {
        Autoballoon {
            setting: setting.into(),
            source: "/etc/xen/xl.conf:3".into(),
            effective,
        }
    }

    #[test]
    fn on_lowers_dom0_by_the_shortfall() {
        assert_eq!(
            decide(100 * 1024, &ab("on", true), 1024 * 1024),
            Ok(924 * 1024)
        );
        // "auto" without dom0_mem= on Xen's command line is on.
        assert_eq!(decide(1, &ab("auto", true), 512 * 1024), Ok(512 * 1024 - 1));
    }

    #[test]
    fn off_and_auto_with_dom0_mem_say_what_to_change() {
        let e = decide(100 * 1024, &ab("off", false), 1024 * 1024).expect_err("off");
        assert!(
            e.contains("autoballoon is \"off\" (/etc/xen/xl.conf:3)"),
            "{e}"
        );
        assert!(
            e.contains("free 100 MiB with `rxl mem-set 0 <size>`"),
            "{e}"
        );
        let e = decide(1, &ab("auto", false), 1024 * 1024).expect_err("auto");
        assert!(e.contains("has dom0_mem="), "{e}");
    }

    #[test]
    fn dom0_is_never_taken_below_the_minimum() {
        let e = decide(400 * 1024, &ab("on", true), 512 * 1024).expect_err("too far");
        assert!(e.contains("below rxl's minimum of 128 MiB"), "{e}");
        assert_eq!(
            decide(384 * 1024, &ab("on", true), 512 * 1024),
            Ok(MIN_DOM0_KIB)
        );
    }
}
