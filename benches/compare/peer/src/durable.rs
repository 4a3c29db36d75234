//! The durable measures on the crates.io `worktable` 1.13.0 with its persistence on
//! (`--durable`; see ../README.md, "The durable comparison"). Its persistence is
//! best-effort by its own documentation: an insert returns once the in-memory change is
//! made and its persistence operation queued; a background task writes pages and never
//! fsyncs. So its figures are **not durable**: they are what its persisted table costs,
//! not the cost of a durable write.
//!
//! A table declared with `persist: true`, opened by `DurablePersistenceEngine::new(
//! DiskConfig::new_with_table_name(dir, …))` and `DurableWorkTable::load(engine)` in a fresh
//! temp directory, shut down by `wait_for_ops()` and `close()`.
//!
//! * `fdatasync_256`: the floor, a 256-byte append + `fdatasync` in the same directory.
//! * `sync_insert_latency`: one task spawned on the 2-worker runtime, median latency of one
//!   insert (returned = queued, not on disk).
//! * `sync_insert_64`: 64 tasks on the 2-worker runtime sharing an `Arc` of the table,
//!   wall time until every insert returned, / N; `sync_insert_64[drained]`: the same run
//!   until `wait_for_ops()` also returned (its queue written out, not fsynced), / N.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use worktable::prelude::PersistedWorkTable;
use worktable::prelude::*;
use worktable::worktable;

use workload::*;

worktable!(
    name: Durable,
    persist: true,
    columns: {
        id: u64 primary_key autoincrement,
        val: u64,
        name: String,
        amount: i64,
    },
    indexes: {
        val_idx: val unique,
        name_idx: name,
    },
);

fn row(table: &DurableWorkTable, names: &[String], i: u64) -> DurableRow {
    DurableRow {
        id: table.get_next_pk().into(),
        val: val_of(i),
        name: names[(i % NAMES) as usize].clone(),
        amount: amount_of(i),
    }
}

async fn open(dir: &Path) -> DurableWorkTable {
    let config = DiskConfig::new_with_table_name(
        dir.to_str().expect("a UTF-8 temp path"),
        DurableWorkTable::name_snake_case(),
        DurableWorkTable::version(),
    );
    let engine = DurablePersistenceEngine::new(config)
        .await
        .expect("the persistence engine");
    DurableWorkTable::load(engine).await.expect("load")
}

async fn close(table: Arc<DurableWorkTable>) {
    table.wait_for_ops().await.expect("wait_for_ops");
    let table = Arc::try_unwrap(table).unwrap_or_else(|_| panic!("the last handle"));
    table.close().await.expect("close");
}

fn check(table: &DurableWorkTable, op: &str, n: u64) {
    check_loaded(op, n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
}

pub fn run() {
    let n = rows_arg();
    let rts = Runtimes::default();
    let names = Arc::new(names());
    println!("system=peer durable rows={n}");

    // The floor and one writer's latency, in one directory.
    let dir = temp_dir();
    fdatasync_floor(dir.path());
    let table = Arc::new(rts.multi().block_on(open(&dir.path().join("table"))));
    let (t, nm) = (table.clone(), names.clone());
    let (_, samples) = timed_task(rts.multi(), async move {
        latencies(async move |i| {
            t.insert(row(&t, &nm, i)).await.expect("insert");
        })
        .await
    });
    report_latency("sync_insert_latency", &samples);
    check(&table, "sync_insert_latency", samples.len() as u64);
    rts.multi().block_on(close(table));
    drop(dir);

    // 64 tasks sharing an Arc of the table.
    let dir = temp_dir();
    let table = Arc::new(rts.multi().block_on(open(&dir.path().join("table"))));
    let start = Instant::now();
    let elapsed = timed_tasks(rts.multi(), |task| {
        let (t, nm) = (table.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                t.insert(row(&t, &nm, i)).await.expect("sync_insert_64");
            }
        }
    });
    rts.multi()
        .block_on(table.wait_for_ops())
        .expect("wait_for_ops");
    let drained = start.elapsed();
    report("sync_insert_64", elapsed, n);
    report("sync_insert_64[drained]", drained, n);
    check(&table, "sync_insert_64", n);
    rts.multi().block_on(close(table));
}
