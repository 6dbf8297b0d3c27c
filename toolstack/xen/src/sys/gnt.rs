//! `/dev/xen/gntdev` (map pages other domains grant us) and `/dev/xen/gntalloc` (grant our
//! pages to other domains), from crate `rxl-xendev`.
//!
//! Their errors convert into [`crate::error::XenError`] with `?`. A [`GrantPage`] shares its
//! device's open file, so it carries no lifetime; its reference is [`GrantPage::gref`].

pub use rxl_xendev::grant::{GNTALLOC_PATH, GNTDEV_PATH, GrantAlloc, GrantDev, GrantPage};
