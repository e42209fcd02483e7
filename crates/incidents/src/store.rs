//! The durable incident store: the pure [`IncidentTracker`] in memory, every
//! change written to a redb file before the call returns.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redb::{Database, Durability, ReadableTable, TableDefinition};
use tokio::sync::broadcast;
use vigil_types::{Alert, AlertId, EventTime, Spike};

use crate::{
    model::{
        ActOutcome, Action, Change, Filter, Incident, IncidentSummary, NewSilence, Notification,
        Outcome, Silence, Stats,
    },
    policy::EscalationPolicy,
    report::ReviewReport,
    tracker::{Dirty, IncidentTracker, DEFAULT_RETENTION},
    Error,
};

/// The store's file name inside `incidents.data_dir`.
pub const STORE_FILE: &str = "incidents.redb";

/// Incident id → the incident as JSON.
const INCIDENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("incidents");
/// Alert id → when it was first recorded (ms): dedupe across restarts.
const ALERT_IDS: TableDefinition<&str, i64> = TableDefinition::new("alert_ids");
/// Silence id → the silence as JSON.
const SILENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("silences");
/// Counters: `schema`, `next_silence`.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
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

impl Notifies for ActOutcome {
    fn notifications_mut(&mut self) -> Vec<&mut Notification> {
        self.notifications.iter_mut().collect()
    }
}

/// The on-disk layout version this code writes.
const SCHEMA: u64 = 1;

/// Buffered changes per live-update subscriber; a slower subscriber gets
/// `RecvError::Lagged` and should reload its view.
const CHANGES_CAPACITY: usize = 1024;

/// The durable incident store.
///
/// Every mutating call (`on_alert`, `on_spike`, `on_spikes`, `act`, `tick`,
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
pub struct IncidentStore {
    path: PathBuf,
    db: Database,
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Change>,
}

struct Inner {
    tracker: IncidentTracker,
    seq: u64,
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
    let mut incidents = Vec::new();
    for e in r.open_table(INCIDENTS)?.iter()? {
        let (k, v) = e?;
        let i: Incident = serde_json::from_slice(v.value()).map_err(|source| Error::Corrupt {
            key: format!("incidents/{}", k.value()),
            source,
        })?;
        incidents.push(i);
    }
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

fn write(
    db: &Database,
    t: &IncidentTracker,
    d: &Dirty,
    outbox: &mut [&mut Notification],
) -> Result<(), Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    {
        if !outbox.is_empty() {
            let mut table = txn.open_table(OUTBOX)?;
            let first = table.last()?.map(|(k, _)| k.value()).unwrap_or(0) + 1;
            for (id, n) in (first..).zip(outbox.iter_mut()) {
                n.outbox_id = id;
                let bytes = serde_json::to_vec(&**n).expect("a notification always serialises");
                table.insert(id, bytes.as_slice())?;
            }
        }
        let mut table = txn.open_table(INCIDENTS)?;
        for id in &d.incidents {
            match t.get(id) {
                Some(i) => {
                    let bytes = serde_json::to_vec(i).expect("an incident always serialises");
                    table.insert(id.as_str(), bytes.as_slice())?;
                }
                None => {
                    table.remove(id.as_str())?;
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
        let db = Database::create(path)?;
        {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate);
            txn.open_table(INCIDENTS)?;
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
            db,
            inner: Mutex::new(Inner { tracker, seq: 0 }),
            changes,
        })
    }

    /// Opens `<incidents.data_dir>/incidents.redb` (creating the directory),
    /// with the escalation policy of `[alert]` and the retention of
    /// `[incidents]`.
    pub fn open_configured(config: &vigil_config::Config) -> Result<IncidentStore, Error> {
        let dir = Path::new(&config.incidents.data_dir);
        std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        IncidentStore::open_with(
            &dir.join(STORE_FILE),
            EscalationPolicy::from_config(&config.alert),
            Duration::from_secs(config.incidents.retention_days.saturating_mul(86_400)),
        )
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
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                // A panic mid-change: memory may hold uncommitted changes,
                // the file does not. Reload it.
                let mut g = poisoned.into_inner();
                if let Ok((i, s, sil, n)) = load(&self.db) {
                    g.tracker.restore(i, s, sil, n);
                }
                self.inner.clear_poison();
                g
            }
        }
    }

    /// Applies `f`, commits what it touched, broadcasts the changes.
    fn mutate<T: Notifies>(
        &self,
        f: impl FnOnce(&mut IncidentTracker) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut g = self.lock();
        let result = f(&mut g.tracker);
        let dirty = g.tracker.take_dirty();
        let mut out = match result {
            Ok(v) => v,
            Err(e) => {
                if !dirty.is_empty() {
                    self.reload(&mut g)?;
                }
                return Err(e);
            }
        };
        let mut outbox = out.notifications_mut();
        if dirty.is_empty() && outbox.is_empty() {
            return Ok(out);
        }
        if let Err(e) = write(&self.db, &g.tracker, &dirty, &mut outbox) {
            // Nothing of this call reached the file: forget it in memory too.
            let _ = self.reload(&mut g);
            return Err(e);
        }
        drop(outbox);
        let inner = &mut *g;
        for c in inner.tracker.changes(&dirty, &mut inner.seq) {
            // No subscriber is fine.
            let _ = self.changes.send(c);
        }
        Ok(out)
    }

    /// Notifications committed but not yet marked done, oldest first: after
    /// a crash between a change and its delivery, deliver these at start.
    pub fn pending_notifications(&self) -> Result<Vec<Notification>, Error> {
        let r = self.db.begin_read()?;
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
    }

    /// Removes delivered (or given-up) notifications from the outbox.
    pub fn notifications_done(&self, outbox_ids: &[u64]) -> Result<(), Error> {
        let ids: Vec<u64> = outbox_ids.iter().copied().filter(|i| *i != 0).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let _g = self.lock();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        {
            let mut table = txn.open_table(OUTBOX)?;
            for id in ids {
                table.remove(id)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn reload(&self, g: &mut Inner) -> Result<(), Error> {
        let (i, s, sil, n) = load(&self.db)?;
        g.tracker.restore(i, s, sil, n);
        Ok(())
    }

    /// Records one alert (see [`IncidentTracker::on_alert`]).
    pub fn on_alert(&self, alert: &Alert, now: EventTime) -> Result<Outcome, Error> {
        self.mutate(|t| Ok(t.on_alert(alert, now)))
    }

    /// Records one spike (see [`IncidentTracker::on_spike`]).
    pub fn on_spike(&self, spike: &Spike, now: EventTime) -> Result<Outcome, Error> {
        self.mutate(|t| Ok(t.on_spike(spike, now)))
    }

    /// Records a batch of spikes in one transaction (one fsync per batch).
    pub fn on_spikes(&self, spikes: &[Spike], now: EventTime) -> Result<Vec<Outcome>, Error> {
        self.mutate(|t| Ok(spikes.iter().map(|s| t.on_spike(s, now)).collect()))
    }

    /// A person acts on an incident (see [`IncidentTracker::act`]).
    pub fn act(
        &self,
        id: &str,
        action: Action,
        actor: &str,
        now: EventTime,
    ) -> Result<ActOutcome, Error> {
        self.mutate(|t| t.act(id, action, actor, now))
    }

    /// Runs the timers (see [`IncidentTracker::tick`]); call it every few
    /// seconds.
    pub fn tick(&self, now: EventTime) -> Result<Vec<Notification>, Error> {
        self.mutate(|t| Ok(t.tick(now)))
    }

    /// Adds a silence.
    pub fn add_silence(
        &self,
        silence: NewSilence,
        author: &str,
        now: EventTime,
    ) -> Result<Silence, Error> {
        self.mutate(|t| t.add_silence(silence, author, now))
    }

    /// Removes a silence.
    pub fn remove_silence(&self, id: &str) -> Result<Silence, Error> {
        self.mutate(|t| t.remove_silence(id))
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

    /// Figures for metrics.
    pub fn stats(&self, now: EventTime) -> Stats {
        self.lock().tracker.stats(now)
    }

    /// Replaces the escalation policy (a live config reload).
    pub fn set_policy(&self, policy: EscalationPolicy) {
        self.lock().tracker.set_policy(policy);
    }
}
