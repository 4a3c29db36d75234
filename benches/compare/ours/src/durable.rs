//! The durable measures on this repository's `worktable` (`--durable`; see ../README.md,
//! "The durable comparison"): a table declared with `persist: true`, opened in a fresh temp
//! directory with `open` (`Durability::Sync`: an insert resolves after the fsync that
//! covers it, one fsync shared by concurrent writers) or `open_with` (`Durability::Buffered`).
//!
//! * `fdatasync_256`: the floor, a 256-byte append + `fdatasync` in the same directory.
//! * `sync_insert_latency`: Sync, one task spawned on the 2-worker runtime, median latency
//!   of one insert.
//! * `sync_insert_64`: Sync, 64 tasks on the 2-worker runtime, each with a clone of the
//!   handle; wall time / N.
//! * `memory_insert`, `buffered_insert`, `memory_insert_64`, `buffered_insert_64`: N inserts
//!   from one spawned task or from 64 tasks, into the in-memory table of the in-memory
//!   measures or into a Buffered persisted table; the Buffered ones end with one `flush()`,
//!   inside the timed span (every insert on disk when the time stops). Each is the median
//!   of 9 runs, made alternately with its twin (memory, Buffered, memory...), each on a
//!   fresh table.
//! * `buffered_insert_ratio`, `buffered_insert_64_ratio` (stats): Buffered throughput /
//!   memory-only throughput, the median over those 9 pairs of each pair's ratio. The two
//!   runs of a pair are adjacent in time, so a slow spell of the machine slows both.
//! * `reopen`: a directory holding M rows (`--reopen-rows`, 1,000,000 by default) as a
//!   checkpoint plus M/10 logged updates after it (rows inserted and `checkpoint()`ed, then
//!   M/10 updates of distinct rows with Buffered, `flush()`, then the process's runtime
//!   dropped with the table: no shutdown, so no second checkpoint); timed: `open` until it
//!   returns a usable table. The rows are then counted and checked.
//! * `insert_latency_idle`, `insert_latency_checkpoint`, `checkpoint`: on that reopened
//!   table (Sync), one task's insert latencies with nothing else running, then while a
//!   `checkpoint()` of its M rows runs (inserting until the checkpoint returns), and how
//!   long that checkpoint took.
//! * `dir_bytes_per_row`, `encoded_bytes_per_row`, `page_bytes_per_row` (stats): after that
//!   checkpoint, the directory's bytes, the rows' rkyv encodings summed, and the table's
//!   in-memory pages (`storage_stats()`), each per live row.
//!
//! Automatic checkpoints (`checkpoint_log_bytes`) are left at their default in the first
//! measures and turned off for the reopen and checkpoint ones, which place theirs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use worktable::prelude::*;

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
    }
);

fn row(table: &DurableWorkTable, names: &[String], i: u64) -> DurableRow {
    DurableRow {
        id: table
            .get_next_pk()
            .expect("u64 keys are far from exhausted")
            .into(),
        val: val_of(i),
        name: names[(i % NAMES) as usize].clone(),
        amount: amount_of(i),
    }
}

fn config(durability: Durability, auto_checkpoints: bool) -> PersistConfig {
    let config = PersistConfig {
        durability,
        ..Default::default()
    };
    if auto_checkpoints {
        config
    } else {
        PersistConfig {
            checkpoint_log_bytes: u64::MAX,
            ..config
        }
    }
}

async fn open(dir: &Path, durability: Durability, auto_checkpoints: bool) -> DurableWorkTable {
    DurableWorkTable::open_with(dir, config(durability, auto_checkpoints))
        .await
        .expect("open")
}

/// The rows' rkyv encodings, summed: what a checkpoint must store at least.
pub fn encoded_bytes(rows: &[DurableRow]) -> u64 {
    rows.iter()
        .map(|r| {
            worktable::rkyv::to_bytes::<worktable::rkyv::rancor::Error>(r)
                .expect("encode")
                .len() as u64
        })
        .sum()
}

fn check(table: &DurableWorkTable, op: &str, n: u64) {
    check_loaded(op, n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
}

pub fn run(names: &Arc<Vec<String>>) {
    let n = rows_arg();
    let m = reopen_rows_arg();
    let rts = Runtimes::default();
    println!("system=ours durable rows={n} reopen_rows={m}");

    // The floor and one writer's latency, in one directory.
    let dir = temp_dir();
    fdatasync_floor(dir.path());
    let table = rts
        .multi()
        .block_on(open(&dir.path().join("table"), Durability::Sync, true));
    let (t, nm) = (table.clone(), names.clone());
    let (_, samples) = timed_task(rts.multi(), async move {
        latencies(async move |i| {
            t.insert(row(&t, &nm, i)).await.expect("insert");
        })
        .await
    });
    report_latency("sync_insert_latency", &samples);
    check(&table, "sync_insert_latency", samples.len() as u64);
    rts.multi().block_on(table.shutdown()).expect("shutdown");
    drop(dir);

    // 64 tasks, Sync.
    let dir = temp_dir();
    let table = rts
        .multi()
        .block_on(open(&dir.path().join("table"), Durability::Sync, true));
    let elapsed = timed_tasks(rts.multi(), |task| {
        let (t, nm) = (table.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                t.insert(row(&t, &nm, i)).await.expect("sync_insert_64");
            }
        }
    });
    report("sync_insert_64", elapsed, n);
    check(&table, "sync_insert_64", n);
    rts.multi().block_on(table.shutdown()).expect("shutdown");
    drop(dir);

    buffered_vs_memory(&rts, names, n);
    reopen_and_checkpoint(&rts, names, m);
}

/// Times each in-memory measure and its Buffered twin this many times, alternately, and
/// reports the medians: one run of each is 0.05-0.1 s, and on a shared machine two runs
/// of the same measure differed by up to 2.5 times.
const PAIRS: usize = 9;

/// `memory_insert`, `buffered_insert`, `memory_insert_64`, `buffered_insert_64`, each the
/// median of [`PAIRS`] runs made alternately with its twin, and the median of the pairs'
/// ratios (`buffered_insert_ratio`, `buffered_insert_64_ratio`).
fn buffered_vs_memory(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64) {
    let mut runs: [Vec<Duration>; 4] = Default::default();
    for _ in 0..PAIRS {
        runs[0].push(memory_one_task(rts, names, n));
        runs[1].push(buffered_one_task(rts, names, n));
    }
    for _ in 0..PAIRS {
        runs[2].push(memory_64_tasks(rts, names, n));
        runs[3].push(buffered_64_tasks(rts, names, n));
    }
    let ops = [
        "memory_insert",
        "buffered_insert",
        "memory_insert_64",
        "buffered_insert_64",
    ];
    for (ratio, (memory, buffered)) in [
        ("buffered_insert_ratio", (&runs[0], &runs[1])),
        ("buffered_insert_64_ratio", (&runs[2], &runs[3])),
    ] {
        // Buffered throughput over memory-only throughput: memory's time over Buffered's.
        let mut ratios: Vec<f64> = memory
            .iter()
            .zip(buffered)
            .map(|(memory, buffered)| memory.as_secs_f64() / buffered.as_secs_f64())
            .collect();
        ratios.sort_unstable_by(f64::total_cmp);
        stat(ratio, ratios[ratios.len() / 2]);
    }
    for (op, mut times) in ops.into_iter().zip(runs) {
        times.sort_unstable();
        report(op, times[times.len() / 2], n);
    }
}

fn memory_one_task(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64) -> Duration {
    let table = crate::BenchWorkTable::default();
    let (t, nm) = (table.clone(), names.clone());
    let (elapsed, ()) = timed_task(rts.multi(), async move {
        for i in 0..n {
            t.insert(crate::row(&t, &nm, i))
                .await
                .expect("memory_insert");
        }
    });
    check_loaded("memory_insert", n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
    rts.multi().block_on(table.shutdown()).expect("shutdown");
    elapsed
}

fn buffered_one_task(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64) -> Duration {
    let dir = temp_dir();
    let table = rts
        .multi()
        .block_on(open(&dir.path().join("table"), Durability::Buffered, true));
    let (t, nm) = (table.clone(), names.clone());
    let (elapsed, ()) = timed_task(rts.multi(), async move {
        for i in 0..n {
            t.insert(row(&t, &nm, i)).await.expect("buffered_insert");
        }
        t.flush().await.expect("flush");
    });
    check(&table, "buffered_insert", n);
    rts.multi().block_on(table.shutdown()).expect("shutdown");
    elapsed
}

fn memory_64_tasks(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64) -> Duration {
    let table = crate::BenchWorkTable::default();
    let elapsed = timed_tasks(rts.multi(), |task| {
        let (t, nm) = (table.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                t.insert(crate::row(&t, &nm, i))
                    .await
                    .expect("memory_insert_64");
            }
        }
    });
    check_loaded("memory_insert_64", n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
    rts.multi().block_on(table.shutdown()).expect("shutdown");
    elapsed
}

fn buffered_64_tasks(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64) -> Duration {
    let dir = temp_dir();
    let table = rts
        .multi()
        .block_on(open(&dir.path().join("table"), Durability::Buffered, true));
    let start = Instant::now();
    let inserted = timed_tasks(rts.multi(), |task| {
        let (t, nm) = (table.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                t.insert(row(&t, &nm, i)).await.expect("buffered_insert_64");
            }
        }
    });
    rts.multi().block_on(table.flush()).expect("flush");
    let elapsed = start.elapsed();
    assert!(elapsed >= inserted);
    check(&table, "buffered_insert_64", n);
    rts.multi().block_on(table.shutdown()).expect("shutdown");
    elapsed
}

/// The update of row `k` (the `j`-th updated): a new name and amount.
fn updated(names: &[String], first: u64, k: u64, j: u64) -> DurableRow {
    DurableRow {
        id: first + k,
        val: val_of(k),
        name: names[((k + 1) % NAMES) as usize].clone(),
        amount: -(j as i64) - 1,
    }
}

/// `reopen`, then `insert_latency_idle`, `insert_latency_checkpoint`, `checkpoint` and the
/// size stats, on a directory of `m` rows.
fn reopen_and_checkpoint(rts: &Runtimes, names: &Arc<Vec<String>>, m: u64) {
    let dir = temp_dir();
    let path = dir.path().join("table");
    let updates: Vec<u64> = permutation(7, m)
        .into_iter()
        .take((m / 10) as usize)
        .collect();

    // Build the directory on a runtime of its own, dropped at the end without a shutdown.
    let first = {
        let build = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the build runtime");
        let table = build.block_on(open(&path, Durability::Buffered, false));
        let (t, nm) = (table.clone(), names.clone());
        let first = build
            .block_on(build.spawn(async move {
                let mut first = None;
                for batch in (0..m).step_by(BATCH as usize) {
                    let rows: Vec<DurableRow> = (batch..(batch + BATCH).min(m))
                        .map(|i| row(&t, &nm, i))
                        .collect();
                    let pks = t.insert_many(rows).await.expect("insert_many");
                    first.get_or_insert(u64::from(pks[0].clone()));
                }
                t.checkpoint().await.expect("checkpoint");
                first.expect("at least one row")
            }))
            .expect("the load task");
        let updates = Arc::new(updates.clone());
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (t, nm, updates) = (table.clone(), names.clone(), updates.clone());
                build.spawn(async move {
                    for j in task_rows(task, updates.len() as u64) {
                        let k = updates[j as usize];
                        t.update(updated(&nm, first, k, j)).await.expect("update");
                    }
                })
            })
            .collect();
        build.block_on(async {
            for task in tasks {
                task.await.expect("an update task");
            }
            table.flush().await.expect("flush");
        });
        drop(table);
        drop(build);
        first
    };
    stat("reopen_dir_bytes", dir_bytes(&path) as f64);

    let start = Instant::now();
    let table = rts.multi().block_on(open(&path, Durability::Sync, false));
    report("reopen", start.elapsed(), 1);
    assert_eq!(table.count() as u64, m, "rows after reopen");
    let mut model: Vec<(usize, i64)> = (0..m)
        .map(|i| ((i % NAMES) as usize, amount_of(i)))
        .collect();
    for (j, &k) in updates.iter().enumerate() {
        let u = updated(names, first, k, j as u64);
        model[k as usize] = (((k + 1) % NAMES) as usize, u.amount);
    }
    for k in (0..m)
        .step_by(97)
        .chain(updates.iter().copied().step_by(97))
    {
        let row = table.select(first + k).expect("a row after reopen");
        let (name, amount) = model[k as usize];
        assert_eq!(
            (row.val, row.name.as_str(), row.amount),
            (val_of(k), names[name].as_str(), amount),
            "row {k} after reopen"
        );
    }

    // One writer's latency with nothing else running, then while a checkpoint runs.
    let (t, nm) = (table.clone(), names.clone());
    let (_, idle) = timed_task(rts.multi(), async move {
        latencies(async move |i| {
            t.insert(row(&t, &nm, m + i)).await.expect("insert");
        })
        .await
    });
    report_latency("insert_latency_idle", &idle);
    let idle_count = idle.len() as u64;
    let (t, nm) = (table.clone(), names.clone());
    let (_, (during, took)) = timed_task(rts.multi(), async move {
        let c = t.clone();
        let checkpoint = tokio::spawn(async move {
            let start = Instant::now();
            c.checkpoint().await.expect("checkpoint");
            start.elapsed()
        });
        let mut samples: Vec<Duration> = Vec::new();
        let mut i = m + idle_count;
        while !checkpoint.is_finished() {
            let start = Instant::now();
            t.insert(row(&t, &nm, i)).await.expect("insert");
            samples.push(start.elapsed());
            i += 1;
        }
        (samples, checkpoint.await.expect("the checkpoint task"))
    });
    report_latency("insert_latency_checkpoint", &during);
    stat("checkpoint_samples", during.len() as f64);
    report("checkpoint", took, 1);

    // Sizes after that checkpoint, per live row.
    let rows = table.select_all().execute().expect("select_all");
    let live = rows.len() as u64;
    assert_eq!(live, table.count() as u64);
    assert_eq!(live, m + idle.len() as u64 + during.len() as u64);
    let encoded = encoded_bytes(&rows);
    stat("dir_bytes_per_row", dir_bytes(&path) as f64 / live as f64);
    stat("encoded_bytes_per_row", encoded as f64 / live as f64);
    stat(
        "page_bytes_per_row",
        table.storage_stats().page_bytes() as f64 / live as f64,
    );
    rts.multi().block_on(table.shutdown()).expect("shutdown");
}
