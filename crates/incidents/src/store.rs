//! The durable incident store: the pure [`IncidentTracker`] in memory, every
//! change written to a redb file before the call returns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Mutex, MutexGuard,
};
use std::time::Duration;

use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::broadcast;
use vigil_types::{Alert, AlertId, EventTime, IncidentId, Spike};

use crate::{
    model::{
        ActOutcome, Action, Change, Draft, Filter, Incident, IncidentSummary, NewReport,
        NewSilence, Notification, Outcome, ReportOutcome, Silence, Stats,
    },
    period::PeriodReport,
    policy::EscalationPolicy,
    report::ReviewReport,
    tracker::{Dirty, IncidentTracker, DEFAULT_RETENTION},
    Error,
};

/// The store's file name inside `incidents.data_dir`.
pub const STORE_FILE: &str = "incidents.redb";

/// Incident id → the incident as JSON.
pub(crate) const INCIDENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("incidents");
/// (incident id, position) -> one timeline event as JSON. The timeline is
/// kept apart from its incident so that a write costs the change (the new
/// events and the incident without its timeline), not the whole history:
/// 1,718 comments once made each write rewrite 7 MB.
const TIMELINE: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("timeline");
/// Alert id → when it was first recorded (ms): dedupe across restarts.
const ALERT_IDS: TableDefinition<&str, i64> = TableDefinition::new("alert_ids");
/// Silence id → the silence as JSON.
const SILENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("silences");
/// Counters: `schema`, `next_silence`.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Notifications committed but not yet delivered (key: outbox id).
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

/// Results that carry notifications, which [`IncidentStore`] puts in its
/// outbox in the same transaction.
trait Notifies {
    fn notifications_mut(&mut self) -> Vec<&mut Notification>;
}

impl Notifies for Outcome {
    fn notifications_mut(&mut self) -> Vec<&mut Notification> {
        match self {
            Outcome::Recorded { notifications, .. } => notifications.iter_mut().collect(),
            Outcome::Duplicate | Outcome::Ignored => Vec::new(),
        }
    }
}

impl Notifies for Vec<Outcome> {
    fn notifications_mut(&mut self) -> Vec<&mut Notification> {
        self.iter_mut()
            .flat_map(|o| o.notifications_mut())
            .collect()
    }
}

impl Notifies for Vec<Notification> {
    fn notifications_mut(&mut self) -> Vec<&mut Notification> {
        self.iter_mut().collect()
    }
}

impl Notifies for Silence {
    fn notifications_mut(&mut self) -> Vec<&mut Notification> {
        Vec::new()
    }
}

impl Notifies for ReportOutcome {
    fn notifications_mut(&mut self) -> Vec<&mut Notification> {
        self.notifications.iter_mut().collect()
    }
}

impl Notifies for ActOutcome {
    fn notifications_mut(&mut self) -> Vec<&mut Notification> {
        self.notifications.iter_mut().collect()
    }
}

/// The on-disk layout version this code writes.
const SCHEMA: u64 = 2;

/// Buffered changes per live-update subscriber; a slower subscriber gets
/// `RecvError::Lagged` and should reload its view.
const CHANGES_CAPACITY: usize = 1024;

/// The durable incident store.
///
/// Every mutating call (`on_alert`, `on_spike`, `on_spikes`, `act`, `report`, `tick`,
/// `add_silence`, `remove_silence`) applies the change in memory, writes the
/// incidents, alert ids and silences it touched in **one** redb write
/// transaction with immediate durability (fsync), and only then returns
/// `Ok`. So whatever a caller was told succeeded survives a `kill -9`, and
/// opening the file again restores it. If the write fails, the in-memory
/// state is reloaded from the file and the call returns the error: nothing
/// of it happened.
///
/// `IncidentStore` is `Send + Sync`: share it in an `Arc` between the alert
/// stage and the HTTP API. Calls are serialised by one mutex and the
/// mutating ones block on disk I/O: from async code call them inside
/// `tokio::task::spawn_blocking` (reads are in-memory and short, but take
/// the same mutex).
///
/// [`subscribe`](Self::subscribe) gives a stream of [`Change`]s for live
/// views (an SSE endpoint), sent after each commit.
///
/// # Degraded mode
///
/// The automatic changes (spikes through
/// [`on_spikes_or_hold`](Self::on_spikes_or_hold), timers through
/// [`tick_or_hold`](Self::tick_or_hold)) are not undone when their write
/// fails (a full disk, an I/O error): they stay in memory, *held*, so that
/// dedupe, silences and escalation keep working and the alert stage can
/// still notify, and the call reports the error. Every later write (a
/// timer tick is one each second) writes the held changes too, so the file
/// catches up as soon as writes succeed again; until then
/// [`is_degraded`](Self::is_degraded) is true. After an I/O error redb
/// refuses every later operation, so the store drops its database handle and
/// opens the file again at the next call. People's actions stay
/// all-or-nothing: one is applied only after the held changes are written.
pub struct IncidentStore {
    path: PathBuf,
    open_db: Opener,
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Change>,
}

/// Opens the database file (at start, and again after an I/O error).
type Opener = Box<dyn Fn() -> Result<Database, Error> + Send + Sync>;

struct Inner {
    tracker: IncidentTracker,
    seq: u64,
    /// `None` after a failed write: opened again at the next call.
    db: Option<Database>,
    /// Automatic changes applied in memory whose write failed.
    held: Dirty,
    /// The last write failed.
    failing: bool,
    /// Memory holds a refused change that could not be undone by reloading
    /// the file: reload before the next use.
    stale: bool,
    /// The highest outbox id this process handed out. Ids are never reused
    /// while it lives: a delivered entry is deleted *before* its round
    /// leaves the dispatcher's in-flight set, and a new notification that
    /// took the freed id (the table's last + 1) in between was skipped as
    /// already in flight and stayed in the outbox until the next start.
    outbox_high: u64,
}

impl Inner {
    /// The database, opened again if a failed write dropped it.
    fn db(&mut self, open: &Opener) -> Result<&Database, Error> {
        if self.db.is_none() {
            self.db = Some(open()?);
        }
        Ok(self.db.as_ref().expect("opened above"))
    }

    /// Writes `d` and `outbox`; a failure drops the database handle (redb
    /// refuses everything after an I/O error) and marks the store failing.
    fn write(
        &mut self,
        open: &Opener,
        d: &Dirty,
        outbox: &mut [&mut Notification],
    ) -> Result<(), Error> {
        let result = match self.db(open) {
            Ok(_) => write(
                self.db.as_ref().expect("opened above"),
                &mut self.tracker,
                d,
                outbox,
                &mut self.outbox_high,
            ),
            Err(e) => Err(e),
        };
        self.settle(&result);
        if result.is_err() {
            for n in outbox.iter_mut() {
                n.outbox_id = 0;
            }
        }
        result
    }

    /// Records whether the last write succeeded.
    fn settle<T>(&mut self, result: &Result<T, Error>) {
        self.failing = result.is_err();
        if result.is_err() {
            self.db = None;
        }
    }
}

impl std::fmt::Debug for IncidentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

type Loaded = (Vec<Incident>, Vec<(AlertId, EventTime)>, Vec<Silence>, u64);

fn load(db: &Database) -> Result<Loaded, Error> {
    let r = db.begin_read()?;
    let mut incidents: BTreeMap<IncidentId, Incident> = BTreeMap::new();
    for e in r.open_table(INCIDENTS)?.iter()? {
        let (k, v) = e?;
        let i: Incident = serde_json::from_slice(v.value()).map_err(|source| Error::Corrupt {
            key: format!("incidents/{}", k.value()),
            source,
        })?;
        incidents.insert(IncidentId::from(k.value()), i);
    }
    // Each incident's events, in order, after any a schema-1 record still
    // carries inline (moved to this table at its next write).
    for e in r.open_table(TIMELINE)?.iter()? {
        let (k, v) = e?;
        let (id, pos) = k.value();
        let event = serde_json::from_slice(v.value()).map_err(|source| Error::Corrupt {
            key: format!("timeline/{id}/{pos}"),
            source,
        })?;
        if let Some(i) = incidents.get_mut(id) {
            i.timeline.push(event);
        }
    }
    let incidents: Vec<Incident> = incidents.into_values().collect();
    let mut seen = Vec::new();
    for e in r.open_table(ALERT_IDS)?.iter()? {
        let (k, v) = e?;
        seen.push((AlertId(k.value().to_string()), EventTime(v.value())));
    }
    let mut silences = Vec::new();
    for e in r.open_table(SILENCES)?.iter()? {
        let (k, v) = e?;
        let s: Silence = serde_json::from_slice(v.value()).map_err(|source| Error::Corrupt {
            key: format!("silences/{}", k.value()),
            source,
        })?;
        silences.push(s);
    }
    let next_silence = r
        .open_table(META)?
        .get("next_silence")?
        .map(|v| v.value())
        .unwrap_or(1);
    Ok((incidents, seen, silences, next_silence))
}

/// Removes the `stored` events of incident `id`.
fn remove_timeline(
    timeline: &mut redb::Table<(&str, u64), &[u8]>,
    id: &str,
    stored: u64,
) -> Result<(), Error> {
    for pos in 0..stored {
        timeline.remove((id, pos))?;
    }
    Ok(())
}

/// The first of `count` new outbox ids: after the table's last entry and
/// after every id this process handed out (see `Inner::outbox_high`).
fn next_outbox_ids(
    table: &redb::Table<'_, u64, &[u8]>,
    high: &mut u64,
    count: u64,
) -> Result<u64, Error> {
    let last = table.last()?.map(|(k, _)| k.value()).unwrap_or(0);
    let first = last.max(*high) + 1;
    *high = first + count - 1;
    Ok(first)
}

fn write(
    db: &Database,
    t: &mut IncidentTracker,
    d: &Dirty,
    outbox: &mut [&mut Notification],
    outbox_high: &mut u64,
) -> Result<(), Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    {
        if !outbox.is_empty() {
            let mut table = txn.open_table(OUTBOX)?;
            let first = next_outbox_ids(&table, outbox_high, outbox.len() as u64)?;
            for (id, n) in (first..).zip(outbox.iter_mut()) {
                n.outbox_id = id;
                let bytes = serde_json::to_vec(&**n).expect("a notification always serialises");
                table.insert(id, bytes.as_slice())?;
            }
        }
        let mut table = txn.open_table(INCIDENTS)?;
        let mut timeline = txn.open_table(TIMELINE)?;
        for id in &d.incidents {
            // Events already stored for it: positions 0..stored.
            let stored = timeline
                .range((id.as_str(), 0)..=(id.as_str(), u64::MAX))?
                .next_back()
                .transpose()?
                .map_or(0, |(k, _)| k.value().1 + 1);
            match t.get_mut(id) {
                Some(i) => {
                    // The incident without its timeline, then only the new
                    // events (all of them if the stored ones no longer fit).
                    let events = std::mem::take(&mut i.timeline);
                    let bytes = serde_json::to_vec(&*i).expect("an incident always serialises");
                    i.timeline = events;
                    table.insert(id.as_str(), bytes.as_slice())?;
                    let from = if stored as usize > i.timeline.len() {
                        remove_timeline(&mut timeline, id, stored)?;
                        0
                    } else {
                        stored as usize
                    };
                    for (pos, event) in i.timeline.iter().enumerate().skip(from) {
                        let bytes = serde_json::to_vec(event).expect("an event always serialises");
                        timeline.insert((id.as_str(), pos as u64), bytes.as_slice())?;
                    }
                }
                None => {
                    table.remove(id.as_str())?;
                    remove_timeline(&mut timeline, id, stored)?;
                }
            }
        }
        let mut table = txn.open_table(ALERT_IDS)?;
        for id in &d.seen {
            match t.seen_at(id) {
                Some(at) => {
                    table.insert(id.as_str(), at.0)?;
                }
                None => {
                    table.remove(id.as_str())?;
                }
            }
        }
        let mut table = txn.open_table(SILENCES)?;
        for id in &d.silences {
            match t.silence(id) {
                Some(s) => {
                    let bytes = serde_json::to_vec(s).expect("a silence always serialises");
                    table.insert(id.as_str(), bytes.as_slice())?;
                }
                None => {
                    table.remove(id.as_str())?;
                }
            }
        }
        if d.meta {
            txn.open_table(META)?
                .insert("next_silence", t.next_silence())?;
        }
    }
    txn.commit()?;
    Ok(())
}

thread_local! {
    /// Set while this thread runs a call whose panic is an expected outcome.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic without printing it. The panic hook is
/// process-wide, so it is not swapped per call (two threads opening stores
/// at once used to restore each other's silent hook, and every later panic
/// of the process, a failing test's included, went unreported): a hook
/// installed once stays silent only for the thread inside this call.
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    out
}

/// Opens (or creates) the store file, refusing a damaged one with a clear
/// error: a zero-length file (redb would silently start a new store in it)
/// or one redb cannot read (a truncated file trips an internal assertion in
/// redb 2, caught here instead of crashing the process).
fn open_file(file: &Path) -> Result<Database, Error> {
    let damaged = |why: String| Error::Damaged {
        path: file.display().to_string(),
        why,
    };
    if std::fs::metadata(file).is_ok_and(|m| m.len() == 0) {
        return Err(damaged("is empty (0 bytes)".into()));
    }
    // redb's assertion is a known outcome here, reported below as an error:
    // the default hook would print it as a crash with a backtrace.
    let opened = quietly(|| Database::create(file));
    match opened {
        Ok(Ok(db)) => Ok(db),
        // Cut short inside its header, or failing its checksums.
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))))
            if e.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Err(damaged(format!("is truncated ({e})")))
        }
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Corrupted(why)))) => {
            Err(damaged(format!("is corrupted ({why})")))
        }
        Ok(Err(e)) => Err(e.into()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(damaged(format!(
                "is damaged (redb could not read it: {msg})"
            )))
        }
    }
}

impl IncidentStore {
    /// Opens (or creates) the store file at `path`, restoring every
    /// incident, remembered alert id and silence, with the default
    /// retention (90 days).
    pub fn open(path: &Path, policy: EscalationPolicy) -> Result<IncidentStore, Error> {
        IncidentStore::open_with(path, policy, DEFAULT_RETENTION)
    }

    /// [`open`](Self::open) with a retention for resolved incidents,
    /// remembered alert ids and ended silences.
    pub fn open_with(
        path: &Path,
        policy: EscalationPolicy,
        retention: Duration,
    ) -> Result<IncidentStore, Error> {
        let file = path.to_path_buf();
        IncidentStore::open_inner(path, policy, retention, Box::new(move || open_file(&file)))
    }

    /// [`open_with`](Self::open_with) on a storage backend that `backend`
    /// makes, at start and again after each I/O error (see *Degraded
    /// mode*). Fault-injection tests use it with [`FaultyFile`].
    pub fn open_with_backend<B: redb::StorageBackend>(
        path: &Path,
        policy: EscalationPolicy,
        retention: Duration,
        backend: impl Fn() -> std::io::Result<B> + Send + Sync + 'static,
    ) -> Result<IncidentStore, Error> {
        IncidentStore::open_inner(
            path,
            policy,
            retention,
            Box::new(move || {
                Ok(redb::Builder::new()
                    .create_with_backend(backend().map_err(redb::DatabaseError::from)?)?)
            }),
        )
    }

    fn open_inner(
        path: &Path,
        policy: EscalationPolicy,
        retention: Duration,
        open_db: Opener,
    ) -> Result<IncidentStore, Error> {
        let db = open_db()?;
        {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate);
            txn.open_table(INCIDENTS)?;
            txn.open_table(TIMELINE)?;
            txn.open_table(ALERT_IDS)?;
            txn.open_table(SILENCES)?;
            txn.open_table(OUTBOX)?;
            {
                let mut meta = txn.open_table(META)?;
                let schema = meta.get("schema")?.map(|v| v.value());
                match schema {
                    None => {
                        meta.insert("schema", SCHEMA)?;
                    }
                    Some(v) if v > SCHEMA => {
                        return Err(Error::Invalid(format!(
                            "{} has store schema {v}; this Vigil reads up to {SCHEMA}",
                            path.display()
                        )))
                    }
                    // Schema 1 kept each timeline inside its incident: it
                    // is read as it is and moved out at the next write, so
                    // the file is schema 2 from now on (an older Vigil must
                    // not read it and see empty timelines).
                    Some(v) if v < SCHEMA => {
                        meta.insert("schema", SCHEMA)?;
                    }
                    Some(_) => {}
                }
            }
            txn.commit()?;
        }
        let (incidents, seen, silences, next_silence) = load(&db)?;
        let mut tracker = IncidentTracker::new(policy).with_retention(retention);
        tracker.restore(incidents, seen, silences, next_silence);
        let (changes, _) = broadcast::channel(CHANGES_CAPACITY);
        Ok(IncidentStore {
            path: path.to_path_buf(),
            open_db,
            inner: Mutex::new(Inner {
                tracker,
                seq: 0,
                db: Some(db),
                held: Dirty::default(),
                failing: false,
                stale: false,
                outbox_high: 0,
            }),
            changes,
        })
    }

    /// Opens `<incidents.data_dir>/incidents.redb` (creating the directory),
    /// with the escalation policy and targets of `[alert]`, the retention of
    /// `[incidents]` and the settings' playbooks.
    pub fn open_configured(settings: &vigil_config::Settings) -> Result<IncidentStore, Error> {
        let dir = &settings.incidents.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let store = IncidentStore::open_with(
            &dir.join(STORE_FILE),
            EscalationPolicy::default(),
            settings.incidents.retention,
        )?;
        store.apply_settings(settings);
        Ok(store)
    }

    /// Takes what the settings say about incidents (at start and at each
    /// config reload): the escalation policy, response targets, stakeholder
    /// sinks and roster, the playbooks and the templates. Running
    /// escalations continue from their step under the new policy; running
    /// incidents keep their checklists.
    pub fn apply_settings(&self, settings: &vigil_config::Settings) {
        let mut g = self.lock();
        g.tracker.set_policy(
            EscalationPolicy::from_settings(&settings.alert).with_roster(&settings.incidents),
        );
        g.tracker.set_playbooks(settings.playbooks.clone());
        g.tracker.set_templates(settings.templates.clone());
    }

    /// Replaces the playbooks new incidents get their checklist from.
    pub fn set_playbooks(&self, playbooks: Vec<vigil_config::Playbook>) {
        self.lock().tracker.set_playbooks(playbooks);
    }

    /// Replaces the status-update templates.
    pub fn set_templates(&self, templates: Vec<vigil_config::Template>) {
        self.lock().tracker.set_templates(templates);
    }

    /// Status updates drafted from the templates (see
    /// [`IncidentTracker::drafts`]).
    pub fn drafts(&self, id: &str, now: EventTime) -> Result<Vec<Draft>, Error> {
        self.lock().tracker.drafts(id, now)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Live changes, sent after each commit.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                // A panic mid-change: memory may hold uncommitted changes,
                // the file does not. Reload it.
                let mut g = poisoned.into_inner();
                g.stale = true;
                self.inner.clear_poison();
                g
            }
        };
        if g.stale && self.reload(&mut g).is_ok() {
            g.stale = false;
        }
        g
    }

    /// Applies `f`, commits what it touched, broadcasts the changes. With
    /// `hold`, a failed write keeps the change in memory (see *Degraded
    /// mode*) and is returned next to the value; without, the change is
    /// undone and the call fails.
    fn mutate<T: Notifies>(
        &self,
        hold: bool,
        f: impl FnOnce(&mut IncidentTracker) -> Result<T, Error>,
    ) -> Result<(T, Option<Error>), Error> {
        let mut g = self.lock();
        if !hold && (!g.held.is_empty() || g.failing) {
            // A person's action is applied only if it can be recorded: write
            // what is held first.
            let held = std::mem::take(&mut g.held);
            if let Err(e) = g.write(&self.open_db, &held, &mut []) {
                g.held = held;
                return Err(e);
            }
        }
        let result = f(&mut g.tracker);
        let dirty = g.tracker.take_dirty();
        let mut out = match result {
            Ok(v) => v,
            Err(e) => {
                if !dirty.is_empty() {
                    self.undo(&mut g);
                }
                return Err(e);
            }
        };
        let mut outbox = out.notifications_mut();
        let mut all = std::mem::take(&mut g.held);
        all.merge(&dirty);
        // While failing, an empty write is the probe that finds the disk
        // writable again.
        if all.is_empty() && outbox.is_empty() && !g.failing {
            return Ok((out, None));
        }
        let unsaved = match g.write(&self.open_db, &all, &mut outbox) {
            Ok(()) => None,
            Err(e) if hold => {
                g.held = all;
                Some(e)
            }
            Err(e) => {
                // Nothing of this call reached the file: forget it in memory too.
                self.undo(&mut g);
                return Err(e);
            }
        };
        drop(outbox);
        let inner = &mut *g;
        for c in inner.tracker.changes(&dirty, &mut inner.seq) {
            // No subscriber is fine.
            let _ = self.changes.send(c);
        }
        Ok((out, unsaved))
    }

    /// [`mutate`](Self::mutate) for people's actions: all or nothing.
    fn apply<T: Notifies>(
        &self,
        f: impl FnOnce(&mut IncidentTracker) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.mutate(false, f).map(|(v, _)| v)
    }

    /// [`mutate`](Self::mutate) for automatic changes: applied even when
    /// they cannot be written.
    fn hold<T: Notifies>(&self, f: impl FnOnce(&mut IncidentTracker) -> T) -> (T, Option<Error>) {
        self.mutate(true, |t| Ok(f(t)))
            .expect("with hold, only the closure could fail, and it cannot")
    }

    /// Reloads memory from the file after a refused change; if the file
    /// cannot be read now, at the next call.
    fn undo(&self, g: &mut Inner) {
        g.stale = self.reload(g).is_err();
    }

    /// Writes what degraded mode holds in memory, if anything (at
    /// shutdown: held changes not written by then are lost).
    pub fn flush_held(&self) -> Result<(), Error> {
        self.apply(|_| Ok(Vec::<Notification>::new())).map(drop)
    }

    /// Whether the store is in degraded mode: its last write failed, or
    /// automatic changes are held in memory, not yet written (see
    /// *Degraded mode*).
    pub fn is_degraded(&self) -> bool {
        let g = self.lock();
        g.failing || !g.held.is_empty()
    }

    /// Notifications committed but not yet marked done, oldest first: after
    /// a crash between a change and its delivery, deliver these at start.
    /// Notifications kept after failing (see
    /// [`notification_failed`](Self::notification_failed)) are among them,
    /// with the sinks still to reach.
    pub fn pending_notifications(&self) -> Result<Vec<Notification>, Error> {
        let mut g = self.lock();
        let result = (|| {
            let r = g.db(&self.open_db)?.begin_read()?;
            let mut out = Vec::new();
            for e in r.open_table(OUTBOX)?.iter()? {
                let (k, v) = e?;
                let n: Notification =
                    serde_json::from_slice(v.value()).map_err(|source| Error::Corrupt {
                        key: format!("outbox/{}", k.value()),
                        source,
                    })?;
                out.push(n);
            }
            Ok(out)
        })();
        if result.is_err() {
            g.db = None;
        }
        result
    }

    /// Notifications in the outbox: committed and not yet delivered
    /// everywhere (the backlog).
    pub fn outbox_len(&self) -> Result<u64, Error> {
        let mut g = self.lock();
        let result = (|| {
            Ok(g.db(&self.open_db)?
                .begin_read()?
                .open_table(OUTBOX)?
                .len()?)
        })();
        if result.is_err() {
            g.db = None;
        }
        result
    }

    /// Removes delivered (or given-up) notifications from the outbox.
    pub fn notifications_done(&self, outbox_ids: &[u64]) -> Result<(), Error> {
        let ids: Vec<u64> = outbox_ids.iter().copied().filter(|i| *i != 0).collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.write_outbox(|table, _| {
            for id in ids {
                table.remove(id)?;
            }
            Ok(())
        })
    }

    /// Keeps `n` in the outbox after its delivery failed, with `n.sinks`
    /// the sinks still to reach (`attempts`, `first_failed_at` and
    /// `failed_at` as the caller set them): replaces its entry, or adds one
    /// for a notification that has none (`outbox_id` 0). Returns the entry's
    /// id.
    pub fn notification_failed(&self, n: &Notification) -> Result<u64, Error> {
        let mut n = n.clone();
        self.write_outbox(move |table, high| {
            if n.outbox_id == 0 {
                n.outbox_id = next_outbox_ids(table, high, 1)?;
            }
            let bytes = serde_json::to_vec(&n).expect("a notification always serialises");
            table.insert(n.outbox_id, bytes.as_slice())?;
            Ok(n.outbox_id)
        })
    }

    /// One durable write transaction on the outbox alone.
    fn write_outbox<T>(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, u64, &[u8]>, &mut u64) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut g = self.lock();
        let mut high = g.outbox_high;
        let result = (|| {
            let mut txn = g.db(&self.open_db)?.begin_write()?;
            txn.set_durability(Durability::Immediate);
            let v = {
                let mut table = txn.open_table(OUTBOX)?;
                f(&mut table, &mut high)?
            };
            txn.commit()?;
            Ok(v)
        })();
        g.outbox_high = g.outbox_high.max(high);
        g.settle(&result);
        result
    }

    fn reload(&self, g: &mut Inner) -> Result<(), Error> {
        let loaded = load(g.db(&self.open_db)?);
        let (i, s, sil, n) = match loaded {
            Ok(l) => l,
            Err(e) => {
                g.db = None;
                return Err(e);
            }
        };
        g.tracker.restore(i, s, sil, n);
        Ok(())
    }

    /// Records one alert (see [`IncidentTracker::on_alert`]).
    pub fn on_alert(&self, alert: &Alert, now: EventTime) -> Result<Outcome, Error> {
        self.apply(|t| Ok(t.on_alert(alert, now)))
    }

    /// Records one spike (see [`IncidentTracker::on_spike`]).
    pub fn on_spike(&self, spike: &Spike, now: EventTime) -> Result<Outcome, Error> {
        self.apply(|t| Ok(t.on_spike(spike, now)))
    }

    /// Records a batch of spikes in one transaction (one fsync per batch).
    pub fn on_spikes(&self, spikes: &[Spike], now: EventTime) -> Result<Vec<Outcome>, Error> {
        self.apply(|t| Ok(spikes.iter().map(|s| t.on_spike(s, now)).collect()))
    }

    /// [`on_spikes`](Self::on_spikes) in degraded mode: when the write
    /// fails, the outcomes still come back (the change is held in memory
    /// and written with the next successful write), next to the error.
    /// Their notifications then have no outbox entry (`outbox_id` 0).
    pub fn on_spikes_or_hold(
        &self,
        spikes: &[Spike],
        now: EventTime,
    ) -> (Vec<Outcome>, Option<Error>) {
        self.hold(|t| spikes.iter().map(|s| t.on_spike(s, now)).collect())
    }

    /// A person acts on an incident (see [`IncidentTracker::act`]).
    pub fn act(
        &self,
        id: &str,
        action: Action,
        actor: &str,
        now: EventTime,
    ) -> Result<ActOutcome, Error> {
        self.apply(|t| t.act(id, action, actor, now))
    }

    /// Merges incident `from` into `into` (see [`IncidentTracker::merge`]).
    pub fn merge(
        &self,
        from: &str,
        into: &str,
        actor: &str,
        now: EventTime,
    ) -> Result<ActOutcome, Error> {
        self.apply(|t| t.merge(from, into, actor, now))
    }

    /// A person reports an incident by hand (see
    /// [`IncidentTracker::report`]).
    pub fn report(
        &self,
        report: NewReport,
        actor: &str,
        now: EventTime,
    ) -> Result<ReportOutcome, Error> {
        self.apply(|t| t.report(report, actor, now))
    }

    /// Runs the timers (see [`IncidentTracker::tick`]); call it every few
    /// seconds.
    pub fn tick(&self, now: EventTime) -> Result<Vec<Notification>, Error> {
        self.apply(|t| Ok(t.tick(now)))
    }

    /// [`tick`](Self::tick) in degraded mode (see
    /// [`on_spikes_or_hold`](Self::on_spikes_or_hold)); while the store is
    /// failing, each call also tries to write what is held.
    pub fn tick_or_hold(&self, now: EventTime) -> (Vec<Notification>, Option<Error>) {
        self.hold(|t| t.tick(now))
    }

    /// Adds a silence.
    pub fn add_silence(
        &self,
        silence: NewSilence,
        author: &str,
        now: EventTime,
    ) -> Result<Silence, Error> {
        self.apply(|t| t.add_silence(silence, author, now))
    }

    /// Removes a silence.
    pub fn remove_silence(&self, id: &str) -> Result<Silence, Error> {
        self.apply(|t| t.remove_silence(id))
    }

    /// Every silence.
    pub fn silences(&self) -> Vec<Silence> {
        self.lock().tracker.silences()
    }

    /// One incident with its timeline.
    pub fn get(&self, id: &str) -> Option<Incident> {
        self.lock().tracker.get(id).cloned()
    }

    /// Incidents passing `filter`, newest opened first.
    pub fn list(&self, filter: &Filter) -> Vec<IncidentSummary> {
        self.lock().tracker.list(filter)
    }

    /// The post-crisis review of one incident.
    pub fn export(&self, id: &str) -> Option<ReviewReport> {
        self.lock().tracker.export(id)
    }

    /// The incidents opened in `[since, until)` summed up.
    pub fn period_report(&self, since: EventTime, until: EventTime) -> PeriodReport {
        self.lock().tracker.period_report(since, until)
    }

    /// Figures for metrics.
    pub fn stats(&self, now: EventTime) -> Stats {
        self.lock().tracker.stats(now)
    }

    /// Replaces the escalation policy (a live config reload).
    pub fn set_policy(&self, policy: EscalationPolicy) {
        self.lock().tracker.set_policy(policy);
    }
}

/// A redb file backend that fails every write on demand, the way a full
/// disk does (`ENOSPC`): for fault-injection tests of degraded mode, with
/// [`IncidentStore::open_with_backend`]. Reads always work.
#[derive(Debug)]
pub struct FaultyFile {
    file: redb::backends::FileBackend,
    full: Arc<AtomicBool>,
}

impl FaultyFile {
    /// Opens (or creates) `path`; writes fail while `full` is true.
    pub fn open(path: &Path, full: Arc<AtomicBool>) -> std::io::Result<FaultyFile> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let file = redb::backends::FileBackend::new(file).map_err(|e| match e {
            redb::DatabaseError::Storage(redb::StorageError::Io(e)) => e,
            other => std::io::Error::other(other.to_string()),
        })?;
        Ok(FaultyFile { file, full })
    }

    fn check(&self) -> std::io::Result<()> {
        if self.full.load(Ordering::Acquire) {
            // ENOSPC, as a full disk answers.
            Err(std::io::Error::from_raw_os_error(28))
        } else {
            Ok(())
        }
    }
}

impl redb::StorageBackend for FaultyFile {
    fn len(&self) -> std::io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.file.read(offset, len)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.file.set_len(len)
    }

    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.check()?;
        self.file.sync_data(eventual)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.file.write(offset, data)
    }
}
