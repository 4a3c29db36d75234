//! Model-based test of a durable table: random sequences of every write (insert, upsert,
//! update, delete, every declared query, in-place updates, `insert_many` batches, some of
//! them refused whole), `flush`, `checkpoint`, clean reopens and crashes, against a
//! `BTreeMap` model, in both durability modes.
//!
//! Every state the table goes through is kept, one per committed write in commit order
//! (read from the change feed: a multi-row update or an insert batch is one state, a
//! multi-row delete one per row), and so is the last one known to be durable: with
//! `Sync` the state of the last write that resolved, with `Buffered` the state when the
//! last `flush` or `checkpoint` completed. A crash (an image of the in-memory disk in
//! every `CrashMode`, taken now or at a random later sync point) must reopen to exactly
//! one of the states from the last durable one to the last one, rows and both indexes;
//! a clean reopen (shutdown, or dropping the last handle) to the last one. The model then
//! goes on from the recovered state.
//!
//! Each case runs on a `current_thread` runtime of its own. The default of 128 cases runs
//! in well under 30 s; `PROPTEST_CASES=1000 cargo test --release --test durable_model`
//! runs more.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use worktable::persist::{CrashMode, MemoryStorage};
use worktable::prelude::*;

worktable!(
    name: Test,
    persist: true,
    columns: {
        id: u64 primary_key autoincrement,
        test: i64,
        another: u64 optional,
        exchange: String,
        counter: u64,
    },
    indexes: {
        test_idx: test unique,
        exchange_idx: exchange,
    },
    queries: {
        update: {
            AnotherByExchange(another) by exchange,
            AnotherByTest(another) by test,
            AnotherById(another) by id,
            TestAndExchangeById(test, exchange) by id,
            TestByExchange(test) by exchange,
            ExchangeByExchange(exchange) by exchange,
        },
        delete: { ByAnother() by another, ByExchange() by exchange, ByTest() by test },
        in_place: { CounterById(counter) by id }
    },
    // Four rows to a page, so rows die and move page by page.
    config: { page_size: 256, shards: 2 },
);

const IDS: u64 = 24;
const TESTS: i64 = 32;
const EXCHANGES: [&str; 3] = ["a", "b", "c"];
const DEFAULT_CASES: u32 = 128;
/// A step that has not finished after this long is a hang, not a slow machine.
const HANG: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
enum Op {
    Insert(TestRow),
    Upsert(TestRow),
    Update(TestRow),
    Delete(u64),
    /// `fresh`: the rows get keys and `test` values the model does not hold, so the
    /// batch commits; otherwise it is taken as generated, often with a refused row.
    InsertMany {
        rows: Vec<TestRow>,
        fresh: bool,
    },
    AnotherByExchange(Option<u64>, String),
    AnotherByTest(Option<u64>, i64),
    AnotherById(Option<u64>, u64),
    TestAndExchangeById(i64, String, u64),
    TestByExchange(i64, String),
    ExchangeByExchange(String, String),
    DeleteByAnother(Option<u64>),
    DeleteByExchange(String),
    DeleteByTest(i64),
    CounterInPlace(u64, u64),
}

impl Op {
    /// Whether the write commits as one group (all its rows or none survive a crash).
    fn one_group(&self) -> bool {
        matches!(
            self,
            Op::InsertMany { .. }
                | Op::AnotherByExchange(..)
                | Op::TestByExchange(..)
                | Op::ExchangeByExchange(..)
        )
    }
}

#[derive(Debug, Clone)]
enum Step {
    Write(Op),
    Flush,
    Checkpoint,
    /// `shutdown()` (a checkpoint), then open again.
    Shutdown,
    /// Drop the last handle (everything synced, no checkpoint), then open again.
    DropAndReopen,
    /// Crash now: open an image of the disk as it is.
    Crash(CrashMode),
    /// Crash at the `after`-th sync from now: the disk fails every call from there on;
    /// the image of that moment is opened once the crash is noticed.
    CrashAtSync {
        after: u64,
        mode: CrashMode,
    },
    /// A vacuum pass: rows move out of sparse pages (small pages make many), and a
    /// checkpoint follows when the directory has grown past the rows.
    Vacuum,
}

fn another() -> impl Strategy<Value = Option<u64>> + Clone {
    prop_oneof![Just(None), (0u64..4).prop_map(Some)]
}

fn exchange() -> impl Strategy<Value = String> {
    prop::sample::select(EXCHANGES.to_vec()).prop_map(String::from)
}

fn row() -> impl Strategy<Value = TestRow> {
    (0..IDS, 0..TESTS, another(), exchange(), 0u64..3).prop_map(
        |(id, test, another, exchange, counter)| TestRow {
            id,
            test,
            another,
            exchange,
            counter,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => row().prop_map(Op::Insert),
        2 => row().prop_map(Op::Upsert),
        2 => row().prop_map(Op::Update),
        2 => (0..IDS).prop_map(Op::Delete),
        2 => (prop::collection::vec(row(), 1..6), any::<bool>())
            .prop_map(|(rows, fresh)| Op::InsertMany { rows, fresh }),
        1 => (another(), exchange()).prop_map(|(a, e)| Op::AnotherByExchange(a, e)),
        1 => (another(), 0..TESTS).prop_map(|(a, t)| Op::AnotherByTest(a, t)),
        1 => (another(), 0..IDS).prop_map(|(a, id)| Op::AnotherById(a, id)),
        2 => (0..TESTS, exchange(), 0..IDS).prop_map(|(t, e, id)| Op::TestAndExchangeById(t, e, id)),
        1 => (0..TESTS, exchange()).prop_map(|(t, e)| Op::TestByExchange(t, e)),
        1 => (exchange(), exchange()).prop_map(|(new, e)| Op::ExchangeByExchange(new, e)),
        1 => another().prop_map(Op::DeleteByAnother),
        1 => exchange().prop_map(Op::DeleteByExchange),
        1 => (0..TESTS).prop_map(Op::DeleteByTest),
        2 => (0..IDS, 1u64..5).prop_map(|(id, by)| Op::CounterInPlace(id, by)),
    ]
}

fn crash_mode() -> impl Strategy<Value = CrashMode> {
    prop_oneof![
        Just(CrashMode::LoseUnsynced),
        Just(CrashMode::KeepWritten),
        any::<u64>().prop_map(|seed| CrashMode::Torn { seed }),
        any::<u64>().prop_map(|seed| CrashMode::Reordered { seed }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        30 => op().prop_map(Step::Write),
        2 => Just(Step::Flush),
        1 => Just(Step::Checkpoint),
        2 => Just(Step::Vacuum),
        1 => Just(Step::Shutdown),
        1 => Just(Step::DropAndReopen),
        3 => crash_mode().prop_map(Step::Crash),
        2 => (1u64..6, crash_mode()).prop_map(|(after, mode)| Step::CrashAtSync { after, mode }),
    ]
}

fn durability() -> impl Strategy<Value = Durability> {
    prop_oneof![Just(Durability::Sync), Just(Durability::Buffered)]
}

type Model = BTreeMap<u64, TestRow>;

fn test_taken(model: &Model, test: i64, by_other_than: u64) -> bool {
    model
        .values()
        .any(|r| r.test == test && r.id != by_other_than)
}

const PK: WorkTableError = WorkTableError::AlreadyExists {
    index: "primary_key",
};
const TEST_IDX: WorkTableError = WorkTableError::AlreadyExists { index: "test_idx" };

/// A `fresh` batch with keys and `test` values the model does not hold (as many rows as
/// there are free ones); any other operation as it is.
fn resolve(op: &Op, model: &Model) -> Op {
    let Op::InsertMany { rows, fresh: true } = op else {
        return op.clone();
    };
    let mut ids = (0..IDS).filter(|id| !model.contains_key(id));
    let mut tests = (0..TESTS).filter(|t| !test_taken(model, *t, u64::MAX));
    let rows = rows
        .iter()
        .map_while(|row| {
            Some(TestRow {
                id: ids.next()?,
                test: tests.next()?,
                ..row.clone()
            })
        })
        .collect();
    Op::InsertMany { rows, fresh: true }
}

/// What the model says the operation does; applies it to the model.
fn apply(model: &mut Model, op: &Op) -> Result<(), WorkTableError> {
    match op.clone() {
        Op::Insert(row) => {
            if model.contains_key(&row.id) {
                return Err(PK);
            }
            if test_taken(model, row.test, row.id) {
                return Err(TEST_IDX);
            }
            model.insert(row.id, row);
        }
        Op::Upsert(row) | Op::Update(row) => {
            if !model.contains_key(&row.id) && matches!(op, Op::Update(_)) {
                return Err(WorkTableError::NotFound);
            }
            if test_taken(model, row.test, row.id) {
                return Err(TEST_IDX);
            }
            model.insert(row.id, row);
        }
        Op::Delete(id) => {
            model.remove(&id).ok_or(WorkTableError::NotFound)?;
        }
        Op::InsertMany { rows, .. } => {
            let mut next = model.clone();
            for (position, row) in rows.into_iter().enumerate() {
                let refused = if next.contains_key(&row.id) {
                    Some(PK)
                } else if test_taken(&next, row.test, row.id) {
                    Some(TEST_IDX)
                } else {
                    None
                };
                if let Some(error) = refused {
                    return Err(WorkTableError::Batch {
                        row: position,
                        error: Box::new(error),
                    });
                }
                next.insert(row.id, row);
            }
            *model = next;
        }
        Op::AnotherByExchange(another, exchange) => {
            for row in model.values_mut().filter(|r| r.exchange == exchange) {
                row.another = another;
            }
        }
        Op::AnotherByTest(another, test) => {
            let row = model
                .values_mut()
                .find(|r| r.test == test)
                .ok_or(WorkTableError::NotFound)?;
            row.another = another;
        }
        Op::AnotherById(another, id) => {
            model.get_mut(&id).ok_or(WorkTableError::NotFound)?.another = another;
        }
        Op::TestAndExchangeById(test, exchange, id) => {
            if !model.contains_key(&id) {
                return Err(WorkTableError::NotFound);
            }
            if test_taken(model, test, id) {
                return Err(TEST_IDX);
            }
            let row = model.get_mut(&id).ok_or(WorkTableError::NotFound)?;
            row.test = test;
            row.exchange = exchange;
        }
        Op::TestByExchange(test, exchange) => {
            // All or nothing: rows that take `test` (the matching rows not holding it
            // yet) conflict with each other and with any other row holding it.
            let takers: Vec<u64> = model
                .values()
                .filter(|r| r.exchange == exchange && r.test != test)
                .map(|r| r.id)
                .collect();
            let kept_elsewhere = model
                .values()
                .any(|r| r.test == test && !takers.contains(&r.id));
            if !takers.is_empty() && (takers.len() > 1 || kept_elsewhere) {
                return Err(TEST_IDX);
            }
            for id in takers {
                model.get_mut(&id).ok_or(WorkTableError::NotFound)?.test = test;
            }
        }
        Op::ExchangeByExchange(new, exchange) => {
            for row in model.values_mut().filter(|r| r.exchange == exchange) {
                row.exchange.clone_from(&new);
            }
        }
        Op::DeleteByAnother(another) => model.retain(|_, r| r.another != another),
        Op::DeleteByExchange(exchange) => model.retain(|_, r| r.exchange != exchange),
        Op::DeleteByTest(test) => {
            let id = model.values().find(|r| r.test == test).map(|r| r.id);
            model.remove(&id.ok_or(WorkTableError::NotFound)?);
        }
        Op::CounterInPlace(id, by) => {
            model.get_mut(&id).ok_or(WorkTableError::NotFound)?.counter += by;
        }
    }
    Ok(())
}

async fn run(table: &TestWorkTable, op: &Op) -> Result<(), WorkTableError> {
    match op.clone() {
        Op::Insert(row) => table.insert(row).await.map(drop),
        Op::Upsert(row) => table.upsert(row).await,
        Op::Update(row) => table.update(row).await,
        Op::Delete(id) => table.delete(id).await,
        Op::InsertMany { rows, .. } => {
            let ids: Vec<TestPrimaryKey> = rows.iter().map(|r| r.id.into()).collect();
            let keys = table.insert_many(rows).await?;
            assert_eq!(keys, ids, "insert_many returns the keys in input order");
            Ok(())
        }
        Op::AnotherByExchange(another, exchange) => {
            table
                .update_another_by_exchange(AnotherByExchangeQuery { another }, exchange)
                .await
        }
        Op::AnotherByTest(another, test) => {
            table
                .update_another_by_test(AnotherByTestQuery { another }, test)
                .await
        }
        Op::AnotherById(another, id) => {
            table
                .update_another_by_id(AnotherByIdQuery { another }, id)
                .await
        }
        Op::TestAndExchangeById(test, exchange, id) => {
            let query = TestAndExchangeByIdQuery { test, exchange };
            table.update_test_and_exchange_by_id(query, id).await
        }
        Op::TestByExchange(test, exchange) => {
            table
                .update_test_by_exchange(TestByExchangeQuery { test }, exchange)
                .await
        }
        Op::ExchangeByExchange(new, exchange) => {
            let query = ExchangeByExchangeQuery { exchange: new };
            table.update_exchange_by_exchange(query, exchange).await
        }
        Op::DeleteByAnother(another) => table.delete_by_another(another).await,
        Op::DeleteByExchange(exchange) => table.delete_by_exchange(exchange).await,
        Op::DeleteByTest(test) => table.delete_by_test(test).await,
        Op::CounterInPlace(id, by) => {
            table
                .update_counter_by_id_in_place(id, move |counter| *counter += by)
                .await
        }
    }
}

/// Whether the table and the model agree on the outcome of a write. A refused batch is
/// compared by kind: which of two conflicting rows is named is not the model's business.
fn same_outcome(got: &Result<(), WorkTableError>, want: &Result<(), WorkTableError>) -> bool {
    match (got, want) {
        (
            Err(WorkTableError::Batch { error: got, .. }),
            Err(WorkTableError::Batch { error: want, .. }),
        ) => std::mem::discriminant(&**got) == std::mem::discriminant(&**want),
        _ => got == want,
    }
}

/// Every read path against `model`: the rows, `count`, `select` of every key, the unique
/// index for every value and the non-unique index for every value. `None` if they agree,
/// otherwise what differs.
fn differences(table: &TestWorkTable, model: &Model) -> Option<String> {
    let mut found = Vec::new();
    let rows = table.select_all().execute().expect("a plain scan");
    let want: Vec<TestRow> = model.values().cloned().collect();
    if rows != want {
        found.push(format!("rows: table {rows:?}\n  model {want:?}"));
    }
    if table.count() != model.len() {
        found.push(format!("count {} != {}", table.count(), model.len()));
    }
    for id in 0..IDS {
        if table.select(id).as_ref() != model.get(&id) {
            found.push(format!("select({id}) = {:?}", table.select(id)));
        }
    }
    for test in -1..=TESTS {
        let want = model.values().find(|r| r.test == test);
        let got = table.select_by_test(test);
        if got.as_ref() != want {
            found.push(format!("select_by_test({test}) = {got:?}, want {want:?}"));
        }
    }
    for exchange in EXCHANGES {
        let want: Vec<TestRow> = model
            .values()
            .filter(|r| r.exchange == exchange)
            .cloned()
            .collect();
        let got = table.select_by_exchange(exchange).execute().expect("query");
        if got != want {
            found.push(format!(
                "select_by_exchange({exchange}) = {got:?}, want {want:?}"
            ));
        }
    }
    (!found.is_empty()).then(|| found.join("\n  "))
}

fn config(durability: Durability) -> PersistConfig {
    PersistConfig {
        durability,
        // Small, so cases roll segments over and take background checkpoints.
        segment_bytes: 2 << 10,
        checkpoint_log_bytes: 6 << 10,
        ..PersistConfig::default()
    }
}

/// The states one opened table went through.
struct Life {
    /// The state at open, then one per committed write, in commit order.
    states: Vec<Model>,
    /// `states[durable]` and every state before it are known to be on disk.
    durable: usize,
}

impl Life {
    fn new(at_open: Model) -> Life {
        Life {
            states: vec![at_open],
            durable: 0,
        }
    }

    fn last(&self) -> &Model {
        self.states.last().expect("a life starts with a state")
    }

    fn all_durable(&mut self) {
        self.durable = self.states.len() - 1;
    }
}

struct Case {
    durability: Durability,
    disk: MemoryStorage,
    table: Option<TestWorkTable>,
    feed: Subscription<TestPrimaryKey, TestRow>,
    model: Model,
    life: Life,
    /// A crash at a sync point is set up, with the mode its image is taken in.
    armed: Option<CrashMode>,
    /// What happened so far, for failure messages.
    log: Vec<String>,
}

async fn open(disk: MemoryStorage, durability: Durability, what: &str) -> TestWorkTable {
    match TestWorkTable::open_storage(disk, config(durability)).await {
        Ok(table) => table,
        Err(error) => panic!("{what}: the open failed: {error}"),
    }
}

impl Case {
    async fn new(durability: Durability) -> Case {
        let disk = MemoryStorage::new();
        let table = open(disk.clone(), durability, "first open").await;
        let feed = table.subscribe();
        Case {
            durability,
            disk,
            table: Some(table),
            feed,
            model: Model::new(),
            life: Life::new(Model::new()),
            armed: None,
            log: Vec::new(),
        }
    }

    fn table(&self) -> &TestWorkTable {
        self.table.as_ref().expect("a table is open between steps")
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "{:?}: {what}\nsteps so far:\n  {}",
            self.durability,
            self.log.join("\n  ")
        )
    }

    /// Takes the operations the table committed since the last call from its change
    /// feed, adding a state for each (one for all of them if `one_group`).
    fn record_commits(&mut self, one_group: bool) {
        let mut state = self.life.last().clone();
        let mut any = false;
        while let Some(next) = self.feed.try_recv() {
            let op = match next {
                Ok(op) => op,
                // After a shutdown, once every operation was received.
                Err(SubscriptionError::Closed) => break,
                Err(error) => self.fail(format!("the change feed failed: {error:?}")),
            };
            let id = u64::from(op.pk);
            match op.row {
                Some(row) => state.insert(id, row),
                None => state.remove(&id),
            };
            any = true;
            if !one_group {
                self.life.states.push(state.clone());
            }
        }
        if one_group && any {
            self.life.states.push(state);
        }
    }

    async fn step(&mut self, n: usize, step: &Step) {
        match step {
            Step::Write(op) => self.write(n, op).await,
            Step::Flush | Step::Checkpoint => {
                let result = match step {
                    Step::Flush => self.table().flush().await,
                    _ => self.table().checkpoint().await,
                };
                self.record_commits(false);
                match result {
                    Ok(()) => self.life.all_durable(),
                    Err(WorkTableError::Persist(_)) if self.armed.is_some() => {}
                    Err(error) => self.fail(format!("step {n}: {step:?} failed: {error}")),
                }
            }
            Step::Vacuum => {
                let result = self.table().vacuum().await;
                self.record_commits(false);
                match result {
                    Ok(report) if report.checkpoint => self.life.all_durable(),
                    Ok(_) => {}
                    Err(WorkTableError::Persist(_)) if self.armed.is_some() => {}
                    Err(error) => self.fail(format!("step {n}: vacuum failed: {error}")),
                }
            }
            Step::Shutdown | Step::DropAndReopen => {
                if self.disarm() {
                    return self.crashed_at_sync(n).await;
                }
                let table = self.table.take().expect("open");
                if matches!(step, Step::Shutdown) {
                    if let Err(error) = table.shutdown().await {
                        self.fail(format!("step {n}: shutdown failed: {error}"));
                    }
                }
                self.record_commits(false);
                drop(table);
                let table = open(self.disk.clone(), self.durability, "clean reopen").await;
                if let Some(differs) = differences(&table, self.life.last()) {
                    self.fail(format!(
                        "step {n}: after a clean reopen ({step:?}) the table is not the last \
                         state:\n  {differs}"
                    ));
                }
                self.reborn(table, self.life.last().clone());
            }
            Step::Crash(mode) => {
                if self.disarm() {
                    return self.crashed_at_sync(n).await;
                }
                let image = self.disk.snapshot().image(*mode);
                self.recover(n, image, format!("{mode:?} image")).await;
            }
            Step::CrashAtSync { after, mode } => {
                if self.armed.is_none() {
                    self.disk.crash_at_sync(self.disk.syncs() + after);
                    self.armed = Some(*mode);
                }
            }
        }
        if self.armed.is_some() && self.disk.crash_snapshot().is_some() {
            self.disarm();
            self.crashed_at_sync(n).await;
        }
    }

    async fn write(&mut self, n: usize, op: &Op) {
        let op = resolve(op, &self.model);
        if let Some(last) = self.log.last_mut() {
            *last = format!("{n}: Write({op:?})");
        }
        let mut model = self.model.clone();
        let want = apply(&mut model, &op);
        let got = run(self.table(), &op).await;
        self.record_commits(op.one_group());
        match &got {
            Err(WorkTableError::Persist(_)) if self.armed.is_some() => {
                // The disk died under this write: what committed is in the feed.
                self.model = self.life.last().clone();
                return;
            }
            _ if !same_outcome(&got, &want) => self.fail(format!(
                "step {n}: {op:?} gave {got:?}, the model says {want:?}"
            )),
            _ => {}
        }
        self.model = model;
        if self.life.last() != &self.model {
            self.fail(format!(
                "step {n}: {op:?}: the change feed says the table holds\n  {:?}\nthe model \
                 says\n  {:?}",
                self.life.last(),
                self.model
            ));
        }
        if let Some(differs) = differences(self.table(), &self.model) {
            self.fail(format!("step {n}: after {op:?}:\n  {differs}"));
        }
        if got.is_ok() && self.durability == Durability::Sync {
            self.life.all_durable();
        }
    }

    /// Cancels a crash set up at a sync point; whether it happened already.
    fn disarm(&mut self) -> bool {
        if self.armed.is_none() {
            return false;
        }
        self.disk.crash_at_sync(u64::MAX);
        let crashed = self.disk.crash_snapshot().is_some();
        if !crashed {
            self.armed = None;
        }
        crashed
    }

    async fn crashed_at_sync(&mut self, n: usize) {
        let Some(mode) = self.armed else {
            self.fail(format!("step {n}: no crash was set up"));
        };
        let Some(snapshot) = self.disk.crash_snapshot() else {
            self.fail(format!(
                "step {n}: the crash at a sync point left no snapshot"
            ));
        };
        self.recover(
            n,
            snapshot.image(mode),
            format!("crash at a sync, {mode:?} image"),
        )
        .await;
    }

    /// Drops the table and opens `image`: it must hold one of the states from the last
    /// durable one on, with indexes that agree.
    async fn recover(&mut self, n: usize, image: MemoryStorage, what: String) {
        self.record_commits(false);
        drop(self.table.take());
        let table = open(image.clone(), self.durability, &what).await;
        let rows: Model = table
            .select_all()
            .execute()
            .expect("a plain scan")
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let candidates = &self.life.states[self.life.durable..];
        let Some(at) = candidates.iter().position(|state| *state == rows) else {
            let before: Vec<usize> = self.life.states[..self.life.durable]
                .iter()
                .enumerate()
                .filter(|(_, state)| **state == rows)
                .map(|(i, _)| i)
                .collect();
            self.fail(format!(
                "step {n}: after a crash ({what}) the table holds a state it never had \
                 durably: states {}..={} were possible (durable first), it equals earlier \
                 states {before:?}\n  recovered {rows:?}\n  last durable {:?}\n  last {:?}",
                self.life.durable,
                self.life.states.len() - 1,
                self.life.states[self.life.durable],
                self.life.last(),
            ));
        };
        if let Some(differs) = differences(&table, &rows) {
            self.fail(format!(
                "step {n}: after a crash ({what}) the rebuilt indexes disagree with the rows:\n  \
                 {differs}"
            ));
        }
        self.log.push(format!(
            "   recovered state {} of {}..={} ({what})",
            self.life.durable + at,
            self.life.durable,
            self.life.states.len() - 1
        ));
        self.disk = image;
        self.armed = None;
        self.reborn(table, rows);
    }

    fn reborn(&mut self, table: TestWorkTable, state: Model) {
        self.feed = table.subscribe();
        self.table = Some(table);
        self.model = state.clone();
        self.life = Life::new(state);
    }

    /// The end of a case: a clean shutdown and reopen hold the last state.
    async fn finish(&mut self, steps: usize) {
        let end = Step::Shutdown;
        self.log.push(format!("{steps}: {end:?} (end)"));
        self.step(steps, &end).await;
        if let Some(table) = self.table.take() {
            if let Err(error) = table.shutdown().await {
                self.fail(format!("the final shutdown failed: {error}"));
            }
        }
    }
}

async fn run_case(durability: Durability, steps: &[Step]) {
    let mut case = Case::new(durability).await;
    for (n, step) in steps.iter().enumerate() {
        case.log.push(format!("{n}: {step:?}"));
        if tokio::time::timeout(HANG, case.step(n, step))
            .await
            .is_err()
        {
            case.fail(format!("step {n}: {step:?} did not finish: a hang"));
        }
    }
    if tokio::time::timeout(HANG, case.finish(steps.len()))
        .await
        .is_err()
    {
        panic!("{durability:?}: the final shutdown and reopen did not finish: a hang");
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 1_000,
        // A failure prints its minimal case; keep it as a named test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn durable_table_recovers_a_state_between_the_last_durable_and_the_last_write(
        durability in durability(),
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run_case(durability, &steps));
    }
}
