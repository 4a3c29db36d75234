//! I/O errors at every storage call of a durable table's workload, in both durability
//! modes. The workload (open; inserts from three tasks; updates and deletes; a flush; an
//! `insert_many`; a checkpoint; more writes from two tasks; a flush; a shutdown) is run
//! once on a clean disk to count its storage calls, then once per call number `n` on a
//! fresh disk whose call `n` fails (`n` from 1 to that count plus a few). What is pinned:
//!
//! * the first operation that reports the failure (or the open) returns
//!   `WorkTableError::Persist`: never a panic, a hang or another error;
//! * the failure is sticky: every write, flush, checkpoint and shutdown started after
//!   an operation reported it fails too; reads keep answering, with every committed
//!   operation;
//! * reopening the disk (the failing disk fails only call `n`), and opening a crash image
//!   of it (power loss dropping everything unsynced, keeping a torn prefix of it, or
//!   keeping unsynced writes out of order),
//!   gives the table as it was after some prefix of the commit order (read from the change
//!   feed) that holds every acknowledged durable write: with `Sync`, every write that
//!   resolved `Ok`; with `Buffered`, every write that resolved `Ok` before a flush,
//!   checkpoint or shutdown that resolved `Ok`. Never a row that was not written.
//!
//! A call number that a run never reaches (concurrent writers may share a sync, so runs
//! differ a little in how many calls they make) fails nothing, and then nothing may fail.
//! Timeouts here only detect hangs; they are never part of what is asserted.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use worktable::persist::{CrashMode, MemoryStorage};
use worktable::prelude::*;

worktable!(
    name: Ledger,
    persist: true,
    columns: {
        id: u64 primary_key,
        name: String,
        balance: i64,
    },
    indexes: { name_idx: name unique },
);

/// Longer than any step takes on a loaded machine; reaching it means a hang.
const HANG: Duration = Duration::from_secs(60);

/// Small segments, so the workload rolls the log over a few times.
fn config(durability: Durability) -> PersistConfig {
    PersistConfig {
        durability,
        segment_bytes: 512,
        ..PersistConfig::default()
    }
}

/// Every key the workload ever uses.
fn all_ids() -> Vec<u64> {
    let mut ids: Vec<u64> = (0..3)
        .flat_map(|t| (0..4).map(move |i| t * 10 + i))
        .collect();
    ids.extend(100..105);
    ids.extend([200, 201]);
    ids
}

/// Version `version` of row `id`: every write of the workload writes a distinct row, so
/// an operation of the feed is found again from the row it wrote.
fn row(id: u64, version: i64) -> LedgerRow {
    LedgerRow {
        id,
        name: format!("row-{id}"),
        balance: i64::try_from(id).expect("small ids") * 1000 + version,
    }
}

/// Runs `step` to completion, or fails the test naming it if it hangs.
async fn within<T>(what: &str, step: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG, step).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: no answer within {HANG:?} (a hang)"),
    }
}

/// Drops the last handle of a table (which blocks until its log is synced) off the
/// runtime's threads, failing the test if that hangs.
async fn drop_table(what: &str, table: LedgerWorkTable) {
    within(what, tokio::task::spawn_blocking(move || drop(table)))
        .await
        .unwrap_or_else(|e| panic!("{what}: dropping the table panicked: {e}"));
}

/// What an acknowledged write did.
#[derive(Debug, Clone)]
enum Effect {
    Put(LedgerRow),
    Delete(u64),
}

/// The record of one run of the workload.
struct Run {
    /// Names the run in every message.
    label: String,
    durability: Durability,
    /// The first error an operation returned, as text, with the operation.
    failure: Mutex<Option<String>>,
    /// Acknowledged writes, in the order they resolved.
    acked: Mutex<Vec<Effect>>,
    /// How many of `acked` are durable: acknowledged before a flush, checkpoint or
    /// shutdown that succeeded (`Buffered`), or all of them (`Sync`).
    durable: Mutex<usize>,
    /// Operations that reported an error.
    errors: Mutex<usize>,
    /// Operations that succeeded after an earlier one reported the failure.
    not_sticky: Mutex<Vec<String>>,
}

impl Run {
    fn new(label: String, durability: Durability) -> Run {
        Run {
            label,
            durability,
            failure: Mutex::new(None),
            acked: Mutex::new(Vec::new()),
            durable: Mutex::new(0),
            errors: Mutex::new(0),
            not_sticky: Mutex::new(Vec::new()),
        }
    }

    fn failed(&self) -> bool {
        self.failure.lock().expect("not poisoned").is_some()
    }

    /// Checks the outcome of `what`, started when `failed_before` was the run's state:
    /// an error must be the persistence failure, and once one was reported nothing may
    /// succeed.
    fn outcome<T>(&self, what: &str, failed_before: bool, result: &Result<T, WorkTableError>) {
        match result {
            Ok(_) if failed_before => {
                let first = self.failure.lock().expect("not poisoned").clone();
                self.not_sticky.lock().expect("not poisoned").push(format!(
                    "{}: {what} succeeded after an earlier operation reported the failure ({})",
                    self.label,
                    first.unwrap_or_default()
                ));
            }
            Ok(_) => {}
            Err(WorkTableError::Persist(_)) => {
                *self.errors.lock().expect("not poisoned") += 1;
                let mut failure = self.failure.lock().expect("not poisoned");
                if failure.is_none() {
                    *failure = Some(format!("{what}: {}", result_error(result)));
                }
            }
            Err(other) => panic!(
                "{}: {what} failed with {other:?}, not a persistence error",
                self.label
            ),
        }
    }

    /// A write: checked, and recorded if acknowledged.
    async fn write<T>(
        &self,
        what: &str,
        effects: Vec<Effect>,
        write: impl Future<Output = Result<T, WorkTableError>>,
    ) {
        let failed_before = self.failed();
        let result = within(&format!("{}: {what}", self.label), write).await;
        self.outcome(what, failed_before, &result);
        if result.is_ok() {
            let mut acked = self.acked.lock().expect("not poisoned");
            acked.extend(effects);
            if self.durability == Durability::Sync {
                *self.durable.lock().expect("not poisoned") = acked.len();
            }
        }
    }

    /// A flush, checkpoint or shutdown: on success, everything acknowledged before it
    /// began is durable.
    async fn barrier(&self, what: &str, barrier: impl Future<Output = Result<(), WorkTableError>>) {
        let failed_before = self.failed();
        let covered = self.acked.lock().expect("not poisoned").len();
        let result = within(&format!("{}: {what}", self.label), barrier).await;
        self.outcome(what, failed_before, &result);
        // A barrier that wrongly succeeds after the failure was reported proves nothing.
        if result.is_ok() && !failed_before {
            let mut durable = self.durable.lock().expect("not poisoned");
            *durable = (*durable).max(covered);
        }
    }
}

fn result_error<T>(result: &Result<T, WorkTableError>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// What one run left behind.
struct Outcome {
    /// The table, if it opened.
    table: Option<LedgerWorkTable>,
    /// Every committed operation, in commit order.
    history: Vec<Operation<LedgerPrimaryKey, LedgerRow>>,
}

/// The workload, on `disk`. Every operation is checked as it resolves (see [`Run`]).
async fn workload(disk: MemoryStorage, run: &Arc<Run>) -> Outcome {
    let opened = within(
        &format!("{}: open", run.label),
        LedgerWorkTable::open_storage(disk, config(run.durability)),
    )
    .await;
    run.outcome("open", false, &opened);
    let Ok(table) = opened else {
        return Outcome {
            table: None,
            history: Vec::new(),
        };
    };
    let feed = table.subscribe();

    // Three tasks insert four rows each, at the same time.
    let inserters: Vec<_> = (0..3u64)
        .map(|task| {
            let (table, run) = (table.clone(), Arc::clone(run));
            tokio::spawn(async move {
                for i in 0..4 {
                    let new = row(task * 10 + i, 0);
                    let effect = vec![Effect::Put(new.clone())];
                    run.write(&format!("insert {}", new.id), effect, table.insert(new))
                        .await;
                }
            })
        })
        .collect();
    for task in inserters {
        task.await.expect("an inserting task panicked");
    }

    for id in [0, 10, 20, 1] {
        let new = row(id, 1);
        let effect = vec![Effect::Put(new.clone())];
        run.write(&format!("update {id}"), effect, table.update(new))
            .await;
    }
    for id in [2, 12] {
        let effect = vec![Effect::Delete(id)];
        run.write(&format!("delete {id}"), effect, table.delete(id))
            .await;
    }
    run.barrier("first flush", table.flush()).await;

    let batch: Vec<_> = (100..105).map(|id| row(id, 0)).collect();
    let effects = batch.iter().cloned().map(Effect::Put).collect();
    run.write("insert_many 100..105", effects, table.insert_many(batch))
        .await;
    run.barrier("checkpoint", table.checkpoint()).await;

    // Two tasks write after the checkpoint, at the same time.
    let later: Vec<_> = (0..2u64)
        .map(|task| {
            let (table, run) = (table.clone(), Arc::clone(run));
            tokio::spawn(async move {
                let changed = row(101 + task * 2, 1);
                let effect = vec![Effect::Put(changed.clone())];
                run.write(
                    &format!("update {}", changed.id),
                    effect,
                    table.update(changed),
                )
                .await;
                let gone = 100 + task * 2;
                run.write(
                    &format!("delete {gone}"),
                    vec![Effect::Delete(gone)],
                    table.delete(gone),
                )
                .await;
                let new = row(200 + task, 0);
                let effect = vec![Effect::Put(new.clone())];
                run.write(&format!("insert {}", new.id), effect, table.insert(new))
                    .await;
            })
        })
        .collect();
    for task in later {
        task.await.expect("a writing task panicked");
    }
    run.barrier("last flush", table.flush()).await;
    run.barrier("shutdown", table.shutdown()).await;

    // The shutdown ended the feed: every committed operation is in it.
    let mut history = Vec::new();
    loop {
        match within(&format!("{}: reading the feed", run.label), feed.recv()).await {
            Ok(op) => history.push(op),
            Err(SubscriptionError::Closed) => break,
            Err(e) => panic!("{}: the feed: {e}", run.label),
        }
    }
    Outcome {
        table: Some(table),
        history,
    }
}

/// The rows after the first `k` operations of `history`.
fn state_at(
    history: &[Operation<LedgerPrimaryKey, LedgerRow>],
    k: usize,
) -> BTreeMap<u64, LedgerRow> {
    let mut rows = BTreeMap::new();
    for op in history.iter().take(k) {
        let id: u64 = op.pk.clone().into();
        match &op.row {
            Some(row) => rows.insert(id, row.clone()),
            None => rows.remove(&id),
        };
    }
    rows
}

fn rows_of(table: &LedgerWorkTable) -> BTreeMap<u64, LedgerRow> {
    table
        .select_all()
        .execute()
        .expect("a plain scan")
        .into_iter()
        .map(|row| (row.id, row))
        .collect()
}

/// The sequence number of the operation that made `effect`.
fn seq_of(history: &[Operation<LedgerPrimaryKey, LedgerRow>], effect: &Effect) -> Option<u64> {
    history
        .iter()
        .find(|op| match effect {
            Effect::Put(row) => op.row.as_ref() == Some(row),
            Effect::Delete(id) => op.row.is_none() && u64::from(op.pk.clone()) == *id,
        })
        .map(|op| op.seq)
}

/// Checks a table opened from what a run left: it holds the rows after some prefix of
/// the run's history that covers every durable write, its unique index agrees, and its
/// durable sequence number is that prefix's. Returns the prefix's length.
fn check_recovered(
    what: &str,
    table: &LedgerWorkTable,
    history: &[Operation<LedgerPrimaryKey, LedgerRow>],
    durable_from: u64,
) -> u64 {
    let got = rows_of(table);
    let k = table.durable_seq();
    let found = (0..=history.len()).find(|&k| state_at(history, k) == got);
    assert!(
        (durable_from..=history.len() as u64).contains(&k) && found == Some(k as usize),
        "{what}: recovered {} rows with durable seq {k}; the rows are the state after \
         operation {found:?} of {} committed ({durable_from} of them acknowledged durable)\n\
         recovered: {got:?}\nhistory: {history:?}",
        got.len(),
        history.len(),
    );
    for id in all_ids() {
        assert_eq!(
            table.select_by_name(format!("row-{id}")),
            got.get(&id).cloned(),
            "{what}: the unique index disagrees for row-{id}"
        );
    }
    k
}

/// Counts of one mode's sweep.
#[derive(Debug, Default)]
struct Sweep {
    calls: u64,
    open_failed: u64,
    failed_later: u64,
    not_reached: u64,
    /// Runs where the reopened table lost non-durable committed operations.
    shorter: u64,
    /// Operations that succeeded after the failure was reported, over every run.
    not_sticky: Vec<String>,
}

impl Sweep {
    /// Fails the test if any operation succeeded after the failure was reported.
    fn check_sticky(&self, mode: &str) {
        assert!(
            self.not_sticky.is_empty(),
            "{mode}: {} operations succeeded after the table's failure was reported \
             (operations: {:?}); the first: {:#?}",
            self.not_sticky.len(),
            self.not_sticky
                .iter()
                .filter_map(|v| v.split(": ").nth(1))
                .map(|v| v.split(" succeeded").next().unwrap_or_default())
                .collect::<std::collections::BTreeSet<_>>(),
            &self.not_sticky[..self.not_sticky.len().min(10)],
        );
    }
}

/// The whole sweep for one durability mode.
async fn sweep(durability: Durability) -> Sweep {
    // The clean run: nothing fails, everything comes back, and its calls are counted.
    let clean = MemoryStorage::new();
    let run = Arc::new(Run::new(format!("{durability:?}, clean run"), durability));
    let outcome = workload(clean.clone(), &run).await;
    assert_eq!(*run.errors.lock().expect("not poisoned"), 0);
    let table = outcome.table.expect("the clean run opened");
    drop_table("clean run", table).await;
    let calls = clean.calls();
    let again = within(
        "clean reopen",
        LedgerWorkTable::open_storage(clean.clone(), config(durability)),
    )
    .await
    .expect("the clean run reopens");
    let all = outcome.history.len() as u64;
    assert_eq!(
        check_recovered("clean reopen", &again, &outcome.history, all),
        all
    );
    drop_table("clean reopen", again).await;
    assert!(calls > 50, "only {calls} storage calls");

    let mut sweep = Sweep {
        calls,
        ..Sweep::default()
    };
    // A few call numbers past the clean run's count: other runs may make a few more.
    for n in 1..=calls + 16 {
        let label = format!("{durability:?}, call {n} fails");
        let disk = MemoryStorage::new();
        disk.fail_call(n);
        let run = Arc::new(Run::new(label.clone(), durability));
        let outcome = workload(disk.clone(), &run).await;
        let failure = run.failure.lock().expect("not poisoned").clone();
        sweep
            .not_sticky
            .extend(run.not_sticky.lock().expect("not poisoned").drain(..));
        let reached = disk.calls() >= n;
        // A call number this run did not reach must not fail the reopen instead.
        disk.fail_call(0);
        match (&failure, reached) {
            (None, true) => panic!("{label}: the call failed and no operation reported it"),
            (None, false) => sweep.not_reached += 1,
            (Some(_), false) => panic!("{label}: an error without the failing call: {failure:?}"),
            (Some(_), true) if outcome.table.is_none() => sweep.open_failed += 1,
            (Some(_), true) => sweep.failed_later += 1,
        }

        // Reads still answer, and show every committed operation.
        if let Some(table) = outcome.table {
            let committed = state_at(&outcome.history, outcome.history.len());
            assert_eq!(
                rows_of(&table),
                committed,
                "{label}: reads after the failure"
            );
            for id in all_ids() {
                assert_eq!(
                    table.select(id),
                    committed.get(&id).cloned(),
                    "{label}: select({id}) after the failure"
                );
            }
            drop_table(&label, table).await;
        }

        let acked = run.acked.lock().expect("not poisoned").clone();
        let durable = *run.durable.lock().expect("not poisoned");
        let durable_from = acked
            .iter()
            .take(durable)
            .map(|effect| {
                seq_of(&outcome.history, effect).unwrap_or_else(|| {
                    panic!("{label}: acknowledged {effect:?} is not in the feed")
                })
            })
            .max()
            .unwrap_or(0);

        // Crash images, taken before a reopen changes the disk.
        let snapshot = disk.snapshot();
        let reopen = format!("{label}, reopened");
        let again = within(
            &reopen,
            LedgerWorkTable::open_storage(disk.clone(), config(durability)),
        )
        .await
        .unwrap_or_else(|e| panic!("{reopen}: {e:?}"));
        let k = check_recovered(&reopen, &again, &outcome.history, durable_from);
        if k < outcome.history.len() as u64 {
            sweep.shorter += 1;
        }
        // The reopened table takes writes again.
        let fresh = row(900, 0);
        within(&reopen, again.insert(fresh.clone()))
            .await
            .unwrap_or_else(|e| panic!("{reopen}: a write after the reopen: {e:?}"));
        within(&reopen, again.shutdown())
            .await
            .unwrap_or_else(|e| panic!("{reopen}: shutdown: {e:?}"));
        drop_table(&reopen, again).await;

        for mode in [
            CrashMode::LoseUnsynced,
            CrashMode::Torn { seed: n },
            CrashMode::Reordered { seed: n },
        ] {
            let what = format!("{label}, crash image {mode:?}");
            let image = snapshot.image(mode);
            let crashed = within(
                &what,
                LedgerWorkTable::open_storage(image, config(durability)),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            check_recovered(&what, &crashed, &outcome.history, durable_from);
            drop_table(&what, crashed).await;
        }
    }
    sweep
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_call_with_sync_writes_is_typed_sticky_and_loses_nothing_acknowledged() {
    let started = Instant::now();
    let sweep = sweep(Durability::Sync).await;
    println!(
        "Sync: {} calls: open failed {}, a later operation failed {}, not reached {}, \
         reopened without some unacknowledged operations {}; {:?}",
        sweep.calls,
        sweep.open_failed,
        sweep.failed_later,
        sweep.not_reached,
        sweep.shorter,
        started.elapsed()
    );
    assert!(sweep.failed_later > 0 && sweep.open_failed > 0);
    sweep.check_sticky("Sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_call_with_buffered_writes_is_typed_sticky_and_keeps_what_was_flushed() {
    let started = Instant::now();
    let sweep = sweep(Durability::Buffered).await;
    println!(
        "Buffered: {} calls: open failed {}, a later operation failed {}, not reached {}, \
         reopened without some unflushed operations {}; {:?}",
        sweep.calls,
        sweep.open_failed,
        sweep.failed_later,
        sweep.not_reached,
        sweep.shorter,
        started.elapsed()
    );
    assert!(sweep.failed_later > 0 && sweep.open_failed > 0);
    sweep.check_sticky("Buffered");
}

/// The smallest case of a failure that `flush` does not report: a checkpoint fails (its
/// first storage call fails), nothing is written after it, and `flush` then resolves
/// `Ok`, although the table has failed and takes no more writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_after_a_failed_checkpoint_reports_the_failure() {
    let disk = MemoryStorage::new();
    let table = within(
        "open",
        LedgerWorkTable::open_storage(disk.clone(), config(Durability::Sync)),
    )
    .await
    .expect("open");
    within("insert", table.insert(row(1, 0)))
        .await
        .expect("insert");
    disk.fail_call(disk.calls() + 1);
    let checkpoint = within("checkpoint", table.checkpoint()).await;
    assert!(
        matches!(checkpoint, Err(WorkTableError::Persist(_))),
        "the checkpoint: {checkpoint:?}"
    );
    let write = within("insert", table.insert(row(2, 0))).await;
    assert!(
        matches!(write, Err(WorkTableError::Persist(_))),
        "a write after the failure: {write:?}"
    );
    let flush = within("flush", table.flush()).await;
    assert!(
        matches!(flush, Err(WorkTableError::Persist(_))),
        "a flush after the failure: {flush:?}"
    );
}
