//! Request dispatch: the pure core of the daemon.
//!
//! [`Daemon::handle`] takes one request from one connection and returns [`Effect`]s:
//! messages to send (the reply first, then watch events for any connection) and domain
//! lifecycle actions for the I/O layer. It never blocks and never fails as a whole: a bad
//! request yields an error reply and leaves every other client's state untouched.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::conflict::ConflictLimiter;
use super::domain::{Domain, SERVER_FEATURES};
use super::liveupdate::{LiveUpdateControl, Session};
use super::ops;
use super::path::{self, INTRODUCE_DOMAIN, RELEASE_DOMAIN};
use super::perms::{Caller, access, root_perms};
use super::quota::Quotas;
use super::store::Store;
use super::transaction::{self, Transaction, View};
use super::watch::{Change, Watch};
use crate::wire::{Header, Message, MsgType, Perms, Request, XsErrno, join_strings};

/// Identifies a connection.
pub type ConnId = u64;

/// What the I/O layer must do after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Queue a message on a connection.
    Send(ConnId, Message),
    /// A domain was introduced: map its ring (on Xen).
    Introduced(Domain),
    /// A domain was released: unmap its ring, drop its connections.
    Released(u32),
}

/// Per-connection state.
#[derive(Debug, Default)]
struct ConnState {
    domid: u32,
    privileged: bool,
    watches: Vec<Watch>,
    txns: HashMap<u32, Transaction>,
    next_txid: u32,
}

/// The daemon's whole state.
#[derive(Debug)]
pub struct Daemon {
    /// The committed tree.
    pub store: Store,
    /// Introduced domains.
    pub domains: BTreeMap<u32, Domain>,
    /// SET_TARGET: domain → the domain whose rights it also holds.
    pub targets: HashMap<u32, u32>,
    /// Quota values.
    pub quotas: Quotas,
    /// Permissions of `@introduceDomain` and `@releaseDomain`.
    pub special_perms: BTreeMap<String, Perms>,
    /// Features set with SET_FEATURE before INTRODUCE.
    pending_features: HashMap<u32, u32>,
    /// Conflict credits: domains whose writes keep failing others' transactions wait.
    pub conflicts: ConflictLimiter,
    /// Domains seen shut down (their @releaseDomain already fired).
    shut_down: std::collections::HashSet<u32>,
    conns: HashMap<ConnId, ConnState>,
    /// Watches of guests' (and dom0's kernel's) rings kept across a restart, by domain:
    /// filled before the state dump and by its reload, handed back when the ring is
    /// attached again. A guest's xenbus registers its watches once and knows nothing of
    /// the restart, so without them `xl shutdown` or a backend's device watch would go
    /// unheard.
    pub ring_watches: BTreeMap<u32, Vec<Watch>>,
    /// The `live-update` control command's state (performed by the server loop).
    pub live_update: LiveUpdateControl,
}

impl Default for Daemon {
    fn default() -> Self {
        Daemon::new(Quotas::default())
    }
}

fn ok() -> Vec<u8> {
    b"OK\0".to_vec()
}

impl Daemon {
    /// A daemon with an empty tree.
    pub fn new(quotas: Quotas) -> Daemon {
        let special_perms = [INTRODUCE_DOMAIN, RELEASE_DOMAIN]
            .iter()
            .map(|n| (n.to_string(), root_perms()))
            .collect();
        Daemon {
            store: Store::new(),
            domains: BTreeMap::new(),
            targets: HashMap::new(),
            quotas,
            special_perms,
            pending_features: HashMap::new(),
            ring_watches: BTreeMap::new(),
            shut_down: Default::default(),
            conflicts: ConflictLimiter::default(),
            conns: HashMap::new(),
            live_update: LiveUpdateControl::default(),
        }
    }

    /// Registers a connection acting as `domid`; `privileged` for dom0's socket.
    pub fn connect(&mut self, id: ConnId, domid: u32, privileged: bool) {
        self.conns.insert(
            id,
            ConnState {
                domid,
                privileged,
                next_txid: 1,
                ..Default::default()
            },
        );
    }

    /// The watches registered on connection `id`.
    pub fn watches_of(&self, id: ConnId) -> &[Watch] {
        self.conns.get(&id).map_or(&[], |c| &c.watches)
    }

    /// Gives connection `id` the watches its domain's ring had before a restart (if any).
    pub fn restore_ring_watches(&mut self, id: ConnId) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(ws) = self.ring_watches.remove(&c.domid) {
            c.watches = ws;
        }
    }

    /// Live update: what connection `id` carries to the new image.
    pub fn session(&self, id: ConnId) -> Option<Session> {
        let c = self.conns.get(&id)?;
        let mut open_txns: Vec<u32> = c.txns.keys().copied().collect();
        open_txns.sort_unstable();
        Some(Session {
            watches: c.watches.clone(),
            next_txid: c.next_txid,
            open_txns,
        })
    }

    /// Live update: registers connection `id` again with its carried session. Its open
    /// transactions are [`Transaction::aborted`]: their commit answers `EAGAIN`.
    pub fn resume_session(&mut self, id: ConnId, domid: u32, privileged: bool, s: Session) {
        self.connect(id, domid, privileged);
        if let Some(c) = self.conns.get_mut(&id) {
            c.watches = s.watches;
            c.next_txid = s.next_txid.max(1);
            c.txns = s
                .open_txns
                .into_iter()
                .map(|t| (t, Transaction::aborted()))
                .collect();
        }
    }

    /// Forgets a connection with its watches and open transactions.
    pub fn disconnect(&mut self, id: ConnId) {
        self.conns.remove(&id);
    }

    /// Number of live connections.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The quota `name` that binds connection `id`, `None` if it is privileged.
    pub fn quota_for(&self, id: ConnId, name: &str) -> Option<u32> {
        let c = self.conns.get(&id)?;
        if c.privileged {
            None
        } else {
            self.quotas.get(Some(c.domid), name).filter(|v| *v > 0)
        }
    }

    /// How long connection `id` must wait before its next request is handled: its
    /// domain caused too many transaction conflicts lately ([`ConflictLimiter`]).
    ///
    /// `now` is called only when some domain is paused: reading the clock is a syscall in
    /// a PV dom0 without a vDSO clock, and this is asked before every request.
    pub fn conflict_wait(&mut self, id: ConnId, now: impl FnOnce() -> Instant) -> Option<Duration> {
        let c = self.conns.get(&id)?;
        if c.privileged || !self.conflicts.any_paused() {
            return None;
        }
        let domid = c.domid;
        self.conflicts.wait(domid, now())
    }

    /// Connections acting as `domid` (unprivileged), e.g. to drop on RELEASE.
    pub fn conns_of(&self, domid: u32) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.domid == domid && !c.privileged)
            .map(|(id, _)| *id)
            .collect()
    }

    fn caller(&self, id: ConnId) -> Option<Caller> {
        let c = self.conns.get(&id)?;
        Some(Caller {
            domid: c.domid,
            privileged: c.privileged,
            target: self.targets.get(&c.domid).copied(),
        })
    }

    /// Handles one request from `id` (socket mode: INTRODUCE records the domain only).
    pub fn handle(&mut self, id: ConnId, msg: &Message) -> Vec<Effect> {
        self.handle_with(id, msg, &mut |_| Ok(()))
    }

    /// Handles one request from `id`; `attach` connects an INTRODUCEd domain's ring (maps
    /// the page, binds the event channel) *before* the domain is recorded, so a failure
    /// answers the error to the caller and leaves no half-introduced domain behind (as
    /// the C daemon does), instead of `OK` for a guest whose xenbus can never come up.
    pub fn handle_with(
        &mut self,
        id: ConnId,
        msg: &Message,
        attach: &mut dyn FnMut(&Domain) -> Result<(), XsErrno>,
    ) -> Vec<Effect> {
        let Some(caller) = self.caller(id) else {
            return Vec::new();
        };
        self.store.set_writer(caller.domid);
        let h = msg.header;
        let mut fx = Vec::new();
        let result = Request::decode(h.msg_type, &msg.payload)
            .and_then(|req| self.dispatch(id, &caller, &h, req, &mut fx, attach));
        let reply = match result {
            Ok(payload) => Message::reply(
                &h,
                MsgType::from_u32(h.msg_type).unwrap_or(MsgType::Error),
                payload,
            )
            .unwrap_or_else(|_| Message::error(&h, XsErrno::E2BIG)),
            Err(e) => {
                debug!(conn = id, msg_type = h.msg_type, error = %e, "request failed");
                Message::error(&h, e)
            }
        };
        if !self.live_update.take_deferred() {
            fx.insert(0, Effect::Send(id, reply));
        }
        fx
    }

    fn canon(caller: &Caller, p: &str) -> Result<String, XsErrno> {
        path::canonical(caller.domid, p, false)
    }

    /// Runs a tree operation inside the request's transaction (if any), then fires the
    /// change (immediately outside a transaction, at commit inside one).
    fn tree_op<T>(
        &mut self,
        id: ConnId,
        tx_id: u32,
        fx: &mut Vec<Effect>,
        op: impl FnOnce(&mut View<'_>, &Quotas) -> Result<T, XsErrno>,
    ) -> Result<T, XsErrno>
    where
        T: IntoChange,
    {
        if tx_id == 0 {
            let mut v = View::Live(&mut self.store);
            let mut r = op(&mut v, &self.quotas)?;
            if let Some(c) = r.take_change() {
                self.fire(&c, fx);
            }
            return Ok(r);
        }
        let conn = self.conns.get_mut(&id).ok_or(XsErrno::EINVAL)?;
        let mut txn = conn.txns.remove(&tx_id).ok_or(XsErrno::ENOENT)?;
        let r = op(&mut View::Txn(&self.store, &mut txn), &self.quotas);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.txns.insert(tx_id, txn);
        }
        r
    }

    fn dispatch(
        &mut self,
        id: ConnId,
        caller: &Caller,
        h: &Header,
        req: Request,
        fx: &mut Vec<Effect>,
        attach: &mut dyn FnMut(&Domain) -> Result<(), XsErrno>,
    ) -> Result<Vec<u8>, XsErrno> {
        let tx = h.tx_id;
        let need_priv = || {
            if caller.privileged {
                Ok(())
            } else {
                Err(XsErrno::EACCES)
            }
        };
        match req {
            Request::Read { path } => {
                let p = Self::canon(caller, &path)?;
                self.tree_op(id, tx, fx, |v, _| ops::read(v, caller, &p).map(Data))
            }
            .map(|d| d.0),
            Request::Directory { path } => {
                let p = Self::canon(caller, &path)?;
                self.tree_op(id, tx, fx, |v, _| ops::directory(v, caller, &p).map(Data))
                    .map(|d| d.0)
            }
            Request::DirectoryPart { path, offset } => {
                let p = Self::canon(caller, &path)?;
                self.tree_op(id, tx, fx, |v, _| {
                    ops::directory_part(v, caller, &p, offset).map(Data)
                })
                .map(|d| d.0)
            }
            Request::GetPerms { path } => {
                let p = path::canonical(caller.domid, &path, true)?;
                if let Some(perms) = self.special_perms.get(&p) {
                    return if access(caller, perms).read {
                        Ok(join_strings(perms.to_strings()))
                    } else {
                        Err(XsErrno::EACCES)
                    };
                }
                self.tree_op(id, tx, fx, |v, _| ops::get_perms(v, caller, &p).map(Data))
                    .map(|d| d.0)
            }
            Request::Write { path, value } => {
                let p = Self::canon(caller, &path)?;
                self.tree_op(id, tx, fx, |v, q| ops::write(v, caller, q, &p, value))
                    .map(|_| ok())
            }
            Request::Mkdir { path } => {
                let p = Self::canon(caller, &path)?;
                self.tree_op(id, tx, fx, |v, q| ops::mkdir(v, caller, q, &p))
                    .map(|_| ok())
            }
            Request::Rm { path } => {
                let p = Self::canon(caller, &path)?;
                self.tree_op(id, tx, fx, |v, q| ops::rm(v, caller, q, &p))
                    .map(|_| ok())
            }
            Request::SetPerms { path, perms } => {
                let p = path::canonical(caller.domid, &path, true)?;
                if let Some(old) = self.special_perms.get(&p) {
                    if !access(caller, old).owner {
                        return Err(XsErrno::EACCES);
                    }
                    self.special_perms.insert(p, perms);
                    return Ok(ok());
                }
                if path::is_special(&p) {
                    return Err(XsErrno::EINVAL);
                }
                self.tree_op(id, tx, fx, |v, q| ops::set_perms(v, caller, q, &p, perms))
                    .map(|_| ok())
            }
            Request::Watch { path, token, depth } => self.watch(id, caller, path, token, depth, fx),
            Request::Unwatch { path, token } => {
                let p = path::canonical(caller.domid, &path, true)?;
                let conn = self.conns.get_mut(&id).ok_or(XsErrno::EINVAL)?;
                let before = conn.watches.len();
                conn.watches.retain(|w| !(w.path == p && w.token == token));
                if conn.watches.len() == before {
                    Err(XsErrno::ENOENT)
                } else {
                    Ok(ok())
                }
            }
            Request::TransactionStart => {
                if tx != 0 {
                    return Err(XsErrno::EBUSY);
                }
                let limit = self.quota_for(id, "transactions");
                let conn = self.conns.get_mut(&id).ok_or(XsErrno::EINVAL)?;
                if limit.is_some_and(|l| conn.txns.len() >= l as usize) {
                    return Err(XsErrno::ENOSPC);
                }
                let mut txid = conn.next_txid;
                while txid == 0 || conn.txns.contains_key(&txid) {
                    txid = txid.wrapping_add(1);
                }
                conn.next_txid = txid.wrapping_add(1);
                conn.txns.insert(txid, Transaction::default());
                Ok(join_strings([txid.to_string()]))
            }
            Request::TransactionEnd { commit } => {
                let conn = self.conns.get_mut(&id).ok_or(XsErrno::EINVAL)?;
                let txn = conn.txns.remove(&tx).ok_or(XsErrno::ENOENT)?;
                if commit {
                    // Re-check the node quota against the tree as it is now: another
                    // transaction of the same domain may have committed meanwhile.
                    if !caller.privileged {
                        for (owner, growth) in txn.node_growth() {
                            if !self.quotas.allows(
                                owner,
                                "nodes",
                                self.store.owned_by(owner) + growth,
                            ) {
                                return Err(XsErrno::ENOSPC);
                            }
                        }
                    }
                    let culprit = transaction::first_conflict(&self.store, &txn)
                        .and_then(|p| self.store.last_writer(p));
                    let changes = match transaction::commit(&mut self.store, txn) {
                        Ok(c) => c,
                        Err(e) => {
                            if let Some(w) = culprit.filter(|w| *w != caller.domid) {
                                self.conflicts.blame(w, Instant::now());
                            }
                            return Err(e);
                        }
                    };
                    for c in &changes {
                        self.fire(c, fx);
                    }
                }
                Ok(ok())
            }
            Request::Introduce { domid, gfn, evtchn } => {
                need_priv()?;
                if let Some(d) = self.domains.get(&domid) {
                    return if d.gfn == gfn && d.evtchn == evtchn {
                        Ok(ok())
                    } else {
                        Err(XsErrno::EEXIST)
                    };
                }
                let features = self
                    .pending_features
                    .get(&domid)
                    .copied()
                    .unwrap_or(SERVER_FEATURES);
                let d = Domain {
                    domid,
                    gfn,
                    evtchn,
                    features,
                };
                if let Err(e) = attach(&d) {
                    warn!(domid, gfn, evtchn, error = %e, "INTRODUCE refused: ring not connected");
                    return Err(e);
                }
                self.pending_features.remove(&domid);
                info!(domid, gfn, evtchn, "domain introduced");
                self.domains.insert(domid, d.clone());
                fx.push(Effect::Introduced(d));
                self.fire(
                    &Change::Special {
                        name: INTRODUCE_DOMAIN,
                        domid,
                    },
                    fx,
                );
                Ok(ok())
            }
            Request::Release { domid } => {
                need_priv()?;
                if self.domains.remove(&domid).is_none() {
                    return Err(XsErrno::ENOENT);
                }
                self.release(domid, fx);
                Ok(ok())
            }
            Request::GetDomainPath { domid } => Ok(join_strings([path::domain_path(domid)])),
            Request::IsDomainIntroduced { domid } => {
                Ok(if domid == 0 || self.domains.contains_key(&domid) {
                    b"T\0".to_vec()
                } else {
                    b"F\0".to_vec()
                })
            }
            Request::Resume { domid } => {
                need_priv()?;
                if self.domains.contains_key(&domid) {
                    Ok(ok())
                } else {
                    Err(XsErrno::ENOENT)
                }
            }
            Request::SetTarget { domid, target } => {
                need_priv()?;
                self.targets.insert(domid, target);
                Ok(ok())
            }
            Request::ResetWatches => {
                let conn = self.conns.get_mut(&id).ok_or(XsErrno::EINVAL)?;
                conn.watches = Vec::new();
                conn.txns = HashMap::new();
                Ok(ok())
            }
            Request::GetFeature { domid } => {
                let v = match domid {
                    None => SERVER_FEATURES,
                    Some(d) => {
                        if !caller.privileged && d != caller.domid {
                            return Err(XsErrno::EACCES);
                        }
                        match self.domains.get(&d) {
                            Some(dom) => dom.features,
                            None => self
                                .pending_features
                                .get(&d)
                                .copied()
                                .ok_or(XsErrno::ENOENT)?,
                        }
                    }
                };
                Ok(join_strings([v.to_string()]))
            }
            Request::SetFeature { domid, value } => {
                need_priv()?;
                if self.domains.contains_key(&domid) {
                    return Err(XsErrno::EBUSY);
                }
                self.pending_features.insert(domid, value & SERVER_FEATURES);
                Ok(ok())
            }
            Request::GetQuota { domid, name } => {
                need_priv()?;
                match name {
                    None => Ok(join_strings([self.quotas.names()])),
                    Some(n) => self
                        .quotas
                        .get(domid, &n)
                        .map(|v| join_strings([v.to_string()]))
                        .ok_or(XsErrno::EINVAL),
                }
            }
            Request::SetQuota { domid, name, value } => {
                need_priv()?;
                if self.quotas.set(domid, &name, value) {
                    Ok(ok())
                } else {
                    Err(XsErrno::EINVAL)
                }
            }
            Request::Control { args } => {
                need_priv()?;
                if args[0] == b"live-update" {
                    return self.live_update.command(id, h, &args[1..]);
                }
                self.control(&args)
            }
        }
    }

    fn watch(
        &mut self,
        id: ConnId,
        caller: &Caller,
        path: String,
        token: String,
        depth: Option<u32>,
        fx: &mut Vec<Effect>,
    ) -> Result<Vec<u8>, XsErrno> {
        let p = path::canonical(caller.domid, &path, true)?;
        let limit = self.quota_for(id, "watches");
        let conn = self.conns.get_mut(&id).ok_or(XsErrno::EINVAL)?;
        if conn.watches.iter().any(|w| w.path == p && w.token == token) {
            return Err(XsErrno::EEXIST);
        }
        if limit.is_some_and(|l| conn.watches.len() >= l as usize) {
            return Err(XsErrno::E2BIG);
        }
        let strip = (!path.starts_with('/') && !path.starts_with('@'))
            .then(|| path::domain_path(caller.domid));
        conn.watches.push(Watch {
            path: p,
            token: token.clone(),
            depth,
            strip,
        });
        // A new watch fires once, with the path as the client gave it.
        if let Ok(m) = Message::new(
            MsgType::WatchEvent as u32,
            0,
            0,
            join_strings([path.as_str(), token.as_str()]),
        ) {
            fx.push(Effect::Send(id, m));
        }
        Ok(ok())
    }

    fn control(&mut self, args: &[Vec<u8>]) -> Result<Vec<u8>, XsErrno> {
        let cmd = String::from_utf8_lossy(&args[0]).to_string();
        let text = match cmd.as_str() {
            "help" => "check\nhelp\nlive-update -f <binary> | -c <args> | -s [-t <secs>] [-F] | -a\nprint <text>\nquota\nstats\n".to_string(),
            "check" => {
                let consistent = self.store.walk().len() == self.store.len();
                if consistent {
                    "OK".to_string()
                } else {
                    return Err(XsErrno::EIO);
                }
            }
            "print" => {
                let msg: Vec<String> = args[1..]
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).to_string())
                    .collect();
                info!(target: "rxenstored::control", "{}", msg.join(" "));
                "OK".to_string()
            }
            "quota" => self
                .quotas
                .global()
                .iter()
                .map(|(k, v)| format!("{k} {v}\n"))
                .collect(),
            "stats" => format!(
                "nodes {}\nconnections {}\ndomains {}\nconflicts-blamed {}\n",
                self.store.len(),
                self.conns.len(),
                self.domains.len(),
                self.conflicts.blamed
            ),
            _ => return Err(XsErrno::EINVAL),
        };
        Ok(join_strings([text]))
    }

    /// `VIRQ_DOM_EXC` fired: `alive` maps every existing domain to its `XEN_DOMINF_*`
    /// flags. Introduced domains that are gone or dying are released (nodes, quotas,
    /// connections); newly shut-down ones get `@releaseDomain` once, as the C daemon does.
    pub fn domain_states(&mut self, alive: &HashMap<u32, u32>) -> Vec<Effect> {
        const DYING: u32 = 1;
        const SHUTDOWN: u32 = 4;
        let mut fx = Vec::new();
        let known: Vec<u32> = self.domains.keys().copied().filter(|d| *d != 0).collect();
        for domid in known {
            match alive.get(&domid) {
                None => self.release_gone(domid, &mut fx),
                Some(f) if f & DYING != 0 => self.release_gone(domid, &mut fx),
                Some(f) if f & SHUTDOWN != 0 => {
                    if self.shut_down.insert(domid) {
                        info!(domid, "domain shut down");
                        self.fire(
                            &Change::Special {
                                name: RELEASE_DOMAIN,
                                domid,
                            },
                            &mut fx,
                        );
                    }
                }
                Some(_) => {
                    self.shut_down.remove(&domid);
                }
            }
        }
        fx
    }

    fn release_gone(&mut self, domid: u32, fx: &mut Vec<Effect>) {
        self.domains.remove(&domid);
        self.shut_down.remove(&domid);
        self.release(domid, fx);
    }

    /// Releases `domid` (already removed from the domain table): its nodes go
    /// (XSA-322/417/419), so do its quota overrides (XSA-483), target, features and its
    /// connections' watches and transactions; `@releaseDomain` fires.
    fn release(&mut self, domid: u32, fx: &mut Vec<Effect>) {
        info!(domid, "domain released");
        self.store.set_writer(0);
        self.conflicts.forget(domid);
        for p in self.store.owned_paths(domid) {
            if self.store.get(&p).is_some() {
                let removed = self.store.remove(&p);
                self.fire(&Change::Remove { path: p, removed }, fx);
            }
        }
        self.quotas.forget(domid);
        self.targets.remove(&domid);
        self.targets.retain(|_, t| *t != domid);
        self.pending_features.remove(&domid);
        for c in self
            .conns
            .values_mut()
            .filter(|c| c.domid == domid && !c.privileged)
        {
            c.watches.clear();
            c.txns.clear();
        }
        fx.push(Effect::Released(domid));
        self.fire(
            &Change::Special {
                name: RELEASE_DOMAIN,
                domid,
            },
            fx,
        );
    }

    /// Queues events for every watch `change` fires, skipping watchers that may not
    /// read the node (XSA-115).
    fn fire(&self, change: &Change, fx: &mut Vec<Effect>) {
        for (cid, conn) in &self.conns {
            let caller = Caller {
                domid: conn.domid,
                privileged: conn.privileged,
                target: self.targets.get(&conn.domid).copied(),
            };
            for w in &conn.watches {
                let Some((epath, perm_node)) = w.fires(change) else {
                    continue;
                };
                if !caller.privileged && !self.may_see(&caller, change, perm_node.as_deref()) {
                    continue;
                }
                let cpath = w.client_path(&epath);
                if let Ok(m) = Message::new(
                    MsgType::WatchEvent as u32,
                    0,
                    0,
                    join_strings([cpath.as_str(), w.token.as_str()]),
                ) {
                    fx.push(Effect::Send(*cid, m));
                }
            }
        }
    }

    fn may_see(&self, caller: &Caller, change: &Change, node: Option<&str>) -> bool {
        let perms = match (change, node) {
            (Change::Special { name, .. }, _) => self.special_perms.get(*name),
            (Change::Remove { removed, .. }, Some(p)) => removed
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, pr)| pr)
                .or_else(|| removed.first().map(|(_, pr)| pr)),
            (_, Some(p)) => self.store.get(p).map(|n| &n.perms),
            (_, None) => None,
        };
        perms.is_some_and(|pr| access(caller, pr).read)
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;

/// A tree operation's result: data, or a change to fire.
trait IntoChange {
    fn take_change(&mut self) -> Option<Change>;
}

/// Reply data of a read-only operation.
struct Data(Vec<u8>);

impl IntoChange for Data {
    fn take_change(&mut self) -> Option<Change> {
        None
    }
}

impl IntoChange for Option<Change> {
    fn take_change(&mut self) -> Option<Change> {
        self.take()
    }
}
