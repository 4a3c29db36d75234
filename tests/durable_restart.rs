//! The supervised persistence actor: a panic inside it (here, from a storage wrapper
//! around `MemoryStorage`, at chosen appends to log segments) restarts it, and nothing
//! is lost: every `Sync` write, issued from several tasks, resolves `Ok`, and a crash
//! image of the disk taken after they resolved holds every one of them. More panics than the restart limit fail
//! the table for good with `WorkTableError::Persist`: later writes, `flush`,
//! `checkpoint` and `shutdown` return it, and reads keep working.
//!
//! Also a panic at a log sync (the restarted actor makes the old appends durable at
//! once), a panic while the directory is reopened for the restart (counted like any
//! panic), and a panic in the checkpoint scan thread (the actor is restarted and the
//! checkpoint taken again). Each hung before it was fixed; a 60 s guard turns a hang
//! into a failure.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use worktable::persist::{
    CrashMode, MemoryStorage, PersistError, Storage, StorageFile, StorageLock,
};
use worktable::prelude::*;

worktable!(
    name: Account,
    persist: true,
    columns: {
        id: u64 primary_key,
        name: String,
        balance: i64,
    },
    indexes: { name_idx: name unique },
);

/// A write that has not resolved after this long is a hang, not a slow machine.
const HANG: Duration = Duration::from_secs(60);

/// Which log calls panic, counted from [`Faults::arm`].
#[derive(Debug, Default)]
struct Faults {
    armed: AtomicBool,
    /// Appends to log segments since armed.
    appends: AtomicU64,
    /// Syncs of log segments since armed.
    syncs: AtomicU64,
    /// These appends panic (numbered from 1).
    panic_appends: Vec<u64>,
    /// These syncs panic (numbered from 1).
    panic_syncs: Vec<u64>,
    /// Every append from this one on panics.
    panic_every_append_from: Option<u64>,
    /// These appends to checkpoint files panic (numbered from 1).
    panic_checkpoint_appends: Vec<u64>,
    /// Appends to checkpoint files since armed.
    checkpoint_appends: AtomicU64,
    /// Whether the syncs of a recovery (from taking the lock to the first log append)
    /// count, and so may panic; by default a panic hits the actor, not its restart.
    count_recovery_syncs: bool,
    /// A recovery is under way: the lock was taken, nothing appended since.
    recovering: AtomicBool,
    /// Panics raised so far.
    panics: AtomicU64,
}

impl Faults {
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    fn on_checkpoint_append(&self) {
        if !self.armed.load(Ordering::SeqCst) {
            return;
        }
        let n = self.checkpoint_appends.fetch_add(1, Ordering::SeqCst) + 1;
        if self.panic_checkpoint_appends.contains(&n) {
            self.panics.fetch_add(1, Ordering::SeqCst);
            panic!("injected panic at checkpoint append {n}");
        }
    }

    fn on_append(&self) {
        self.recovering.store(false, Ordering::SeqCst);
        if !self.armed.load(Ordering::SeqCst) {
            return;
        }
        let n = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        if self.panic_appends.contains(&n) || self.panic_every_append_from.is_some_and(|m| n >= m) {
            self.panics.fetch_add(1, Ordering::SeqCst);
            panic!("injected panic at log append {n}");
        }
    }

    fn on_sync(&self) {
        let recovering = self.recovering.load(Ordering::SeqCst);
        if !self.armed.load(Ordering::SeqCst) || (recovering && !self.count_recovery_syncs) {
            return;
        }
        let n = self.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        if self.panic_syncs.contains(&n) {
            self.panics.fetch_add(1, Ordering::SeqCst);
            panic!("injected panic at log sync {n}");
        }
    }
}

/// A [`MemoryStorage`] whose log segments panic as [`Faults`] says.
#[derive(Debug, Clone)]
struct Panicking {
    disk: MemoryStorage,
    faults: Arc<Faults>,
}

#[derive(Debug)]
struct PanickingFile {
    file: Box<dyn StorageFile>,
    /// A log segment.
    log: bool,
    /// A checkpoint being written.
    checkpoint: bool,
    faults: Arc<Faults>,
}

impl Panicking {
    fn file(&self, name: &str, file: Box<dyn StorageFile>) -> Box<dyn StorageFile> {
        Box::new(PanickingFile {
            file,
            log: name.ends_with(".log"),
            checkpoint: name.contains(".ckpt"),
            faults: Arc::clone(&self.faults),
        })
    }
}

impl Storage for Panicking {
    fn lock(&self) -> io::Result<Box<dyn StorageLock>> {
        self.faults.recovering.store(true, Ordering::SeqCst);
        self.disk.lock()
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.disk.list()
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        Ok(self.file(name, self.disk.open(name)?))
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        Ok(self.file(name, self.disk.create(name)?))
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.disk.rename(from, to)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.disk.remove(name)
    }
    fn sync_dir(&self) -> io::Result<()> {
        self.disk.sync_dir()
    }
}

impl StorageFile for PanickingFile {
    fn len(&mut self) -> io::Result<u64> {
        self.file.len()
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(offset, buf)
    }
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if self.log {
            self.faults.on_append();
        }
        if self.checkpoint {
            self.faults.on_checkpoint_append();
        }
        self.file.append(data)
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.truncate(len)
    }
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.file.preallocate(len)
    }
    fn sync(&mut self) -> io::Result<()> {
        if self.log {
            self.faults.on_sync();
        }
        self.file.sync()
    }
}

fn rows(table: &AccountWorkTable) -> Vec<AccountRow> {
    table.select_all().execute().expect("a plain scan")
}

const TASKS: u64 = 4;
const PER_TASK: u64 = 30;

fn account(task: u64, i: u64) -> AccountRow {
    AccountRow {
        id: task * 1_000 + i,
        name: format!("t{task}-{i}"),
        balance: i as i64,
    }
}

/// Writes `TASKS × PER_TASK` rows with `Sync` from as many tasks while the storage
/// panics as `faults` says; every write must resolve `Ok`, and the disk must then hold
/// them all, even after a power loss.
async fn writes_survive(faults: Faults, plan: &str) {
    let disk = MemoryStorage::new();
    let faults = Arc::new(faults);
    let storage = Panicking {
        disk: disk.clone(),
        faults: Arc::clone(&faults),
    };
    let table = AccountWorkTable::open_storage(storage, PersistConfig::default())
        .await
        .expect("open");
    faults.arm();
    let writers: Vec<_> = (0..TASKS)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let row = account(task, i);
                    match tokio::time::timeout(HANG, table.insert(row.clone())).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => return Err(format!("insert {row:?} failed: {error}")),
                        Err(_) => return Err(format!("insert {row:?} hangs")),
                    }
                }
                Ok(())
            })
        })
        .collect();
    for writer in writers {
        if let Err(error) = writer.await.expect("writer task") {
            panic!("{plan}: {error}");
        }
    }
    let panics = faults.panics.load(Ordering::SeqCst);
    let planned = (faults.panic_appends.len() + faults.panic_syncs.len()) as u64;
    assert_eq!(
        panics,
        planned,
        "{plan}: the storage panicked {panics} times, the plan has {planned} (appends seen: \
         {}, syncs seen: {})",
        faults.appends.load(Ordering::SeqCst),
        faults.syncs.load(Ordering::SeqCst),
    );
    let mut want: Vec<AccountRow> = (0..TASKS)
        .flat_map(|task| (0..PER_TASK).map(move |i| account(task, i)))
        .collect();
    want.sort_by_key(|row| row.id);
    assert_eq!(rows(&table), want, "{plan}: the table in memory");
    // Every write resolved, so every one is synced: a power loss now loses none.
    let image = disk.snapshot().image(CrashMode::LoseUnsynced);
    let crashed = AccountWorkTable::open_storage(image, PersistConfig::default())
        .await
        .unwrap_or_else(|error| panic!("{plan}: the crash image does not open: {error}"));
    assert_eq!(
        rows(&crashed),
        want,
        "{plan}: a power loss after every write resolved"
    );
    for row in &want {
        assert_eq!(
            crashed.select_by_name(row.name.clone()).as_ref(),
            Some(row),
            "{plan}: the unique index after recovery"
        );
    }
    drop(crashed);
    table.shutdown().await.expect("shutdown after restarts");
    let again = AccountWorkTable::open_storage(disk, PersistConfig::default())
        .await
        .unwrap_or_else(|error| panic!("{plan}: the reopen failed: {error}"));
    assert_eq!(rows(&again), want, "{plan}: after shutdown and reopen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_at_a_log_append_restarts_the_actor_and_loses_nothing() {
    for n in [1, 2, 5, 13] {
        let faults = Faults {
            panic_appends: vec![n],
            ..Faults::default()
        };
        writes_survive(faults, &format!("panic at log append {n}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_up_to_the_restart_limit_lose_nothing() {
    // Eight panics: the supervisor's limit.
    let faults = Faults {
        panic_appends: vec![1, 2, 4, 7, 11, 16, 22, 29],
        ..Faults::default()
    };
    writes_survive(faults, "eight panics at log appends").await;
}

/// A panic at a log sync, after the frames were appended (minimal form of the next
/// case): the restarted actor syncs and reports at once, without waiting for another
/// write, so the `Sync` write waiting for that sync resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_write_resolves_after_a_panic_at_its_log_sync() {
    let faults = Arc::new(Faults {
        panic_syncs: vec![1],
        ..Faults::default()
    });
    let disk = MemoryStorage::new();
    let storage = Panicking {
        disk: disk.clone(),
        faults: Arc::clone(&faults),
    };
    let table = AccountWorkTable::open_storage(storage, PersistConfig::default())
        .await
        .expect("open");
    faults.arm();
    let inserted = tokio::time::timeout(HANG, table.insert(account(0, 0))).await;
    assert_eq!(faults.panics.load(Ordering::SeqCst), 1, "the sync panicked");
    assert!(
        matches!(inserted, Ok(Ok(_))),
        "the insert whose sync panicked gave {inserted:?} (Err(Elapsed) = it hangs)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_at_a_log_sync_restarts_the_actor_and_loses_nothing() {
    for n in [1, 2, 7] {
        let faults = Faults {
            panic_syncs: vec![n],
            ..Faults::default()
        };
        writes_survive(faults, &format!("panic at log sync {n}")).await;
    }
    let faults = Faults {
        panic_appends: vec![1, 3, 6, 10],
        panic_syncs: vec![2, 5, 8, 14],
        ..Faults::default()
    };
    writes_survive(faults, "eight panics at appends and syncs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_panics_than_the_restart_limit_fail_the_table_and_reads_go_on() {
    let faults = Arc::new(Faults {
        panic_every_append_from: Some(1),
        ..Faults::default()
    });
    let storage = Panicking {
        disk: MemoryStorage::new(),
        faults: Arc::clone(&faults),
    };
    let table = AccountWorkTable::open_storage(storage, PersistConfig::default())
        .await
        .expect("open");
    for i in 0..10 {
        table
            .insert(account(0, i))
            .await
            .expect("insert before the faults");
    }
    faults.arm();
    let persist_failure = |what: &str, result: Result<(), WorkTableError>| match result {
        Err(WorkTableError::Persist(failure)) => failure,
        other => panic!("{what}: expected a Persist error, got {other:?}"),
    };
    let first = tokio::time::timeout(HANG, table.insert(account(1, 0)))
        .await
        .expect("the insert resolves")
        .map(drop);
    let failure = persist_failure("the write that meets the panics", first);
    assert!(
        matches!(failure.error(), PersistError::PreviousError { first } if first.contains("panicked")),
        "the failure names the panics: {failure}"
    );
    assert!(
        faults.panics.load(Ordering::SeqCst) > 8,
        "{} panics",
        faults.panics.load(Ordering::SeqCst)
    );
    let later = table.insert(account(1, 1)).await.map(drop);
    assert_eq!(persist_failure("a later insert", later), failure);
    let later = table.upsert(account(0, 3)).await;
    assert_eq!(persist_failure("a later upsert", later), failure);
    let flushed = tokio::time::timeout(HANG, table.flush())
        .await
        .expect("flush resolves");
    assert_eq!(persist_failure("flush", flushed), failure);
    let checkpointed = tokio::time::timeout(HANG, table.checkpoint())
        .await
        .expect("checkpoint resolves");
    assert_eq!(persist_failure("checkpoint", checkpointed), failure);
    // Reads keep working, on the rows committed before the failure.
    for i in 0..10 {
        assert_eq!(table.select(i), Some(account(0, i)), "select({i})");
    }
    assert_eq!(
        table.select_by_name("t0-4".to_string()),
        Some(account(0, 4))
    );
    let shut = tokio::time::timeout(HANG, table.shutdown())
        .await
        .expect("shutdown resolves");
    assert_eq!(persist_failure("shutdown", shut), failure);
    assert_eq!(table.select(3), Some(account(0, 3)), "reads after shutdown");
}

/// A panic while the supervisor reopens the directory after a first panic (here at the
/// sync that recovery makes in `Recovery::finish`) is one more panic: the actor is
/// restarted again and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_while_the_actor_is_reopened_after_a_panic_loses_nothing() {
    let faults = Faults {
        panic_appends: vec![1],
        // The first log sync after the panic at the first append is the reopen's.
        panic_syncs: vec![1],
        count_recovery_syncs: true,
        ..Faults::default()
    };
    writes_survive(faults, "panic at log append 1, then at the reopen's sync").await;
}

/// A panic on the thread that scans a checkpoint (at a storage append of a full block
/// of rows) is handed to the actor and handled as its own: the actor is restarted and
/// the checkpoint taken again, so `checkpoint()` and `shutdown()` resolve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_checkpoint_scan_neither_hangs_nor_loses_rows() {
    let disk = MemoryStorage::new();
    let faults = Arc::new(Faults {
        // The first append is the header, on the actor's thread; the second is the first
        // full block of rows, on the scan's thread.
        panic_checkpoint_appends: vec![2],
        ..Faults::default()
    });
    let storage = Panicking {
        disk: disk.clone(),
        faults: Arc::clone(&faults),
    };
    let table = AccountWorkTable::open_storage(storage, PersistConfig::default())
        .await
        .expect("open");
    // Rows enough for several 64 KiB checkpoint blocks.
    for task in 0..8 {
        let batch = (0..500).map(|i| account(task, i)).collect();
        table.insert_many(batch).await.expect("insert_many");
    }
    faults.arm();
    let checkpoint = tokio::time::timeout(HANG, table.checkpoint()).await;
    assert_eq!(
        faults.panics.load(Ordering::SeqCst),
        1,
        "the scan met the injected panic (checkpoint appends seen: {})",
        faults.checkpoint_appends.load(Ordering::SeqCst)
    );
    let checkpoint = checkpoint.expect("checkpoint() resolves after a panic in its scan");
    let after = tokio::time::timeout(HANG, table.insert(account(9, 0)))
        .await
        .expect("a write after the checkpoint resolves");
    let shut = tokio::time::timeout(HANG, table.shutdown())
        .await
        .expect("shutdown resolves");
    let want = rows(&table);
    assert!(
        checkpoint.is_ok() || matches!(checkpoint, Err(WorkTableError::Persist(_))),
        "checkpoint gave {checkpoint:?}"
    );
    if after.is_ok() {
        shut.expect("shutdown after a restarted checkpoint");
        let again = AccountWorkTable::open_storage(disk, PersistConfig::default())
            .await
            .expect("reopen");
        assert_eq!(rows(&again), want, "after shutdown and reopen");
    }
}
