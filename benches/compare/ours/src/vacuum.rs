//! The vacuum measures on this repository's `worktable` (`--vacuum <measure>`; see
//! ../README.md, "The vacuum measures"). One measure per process, so the memory one starts
//! from a fresh process:
//!
//! * `rss`: resident memory (`/proc/self/statm`) with an empty table, after inserting
//!   `--vacuum-rows N` rows (default 1,000,000), after deleting them all, and after one
//!   `vacuum().await`; then again after glibc's `malloc_trim(0)`, to tell memory the table
//!   kept from memory the allocator kept. Automatic passes are off, so the one pass is the
//!   one called.
//! * `churn`: 10,000 rows `{ id, len, payload: String }` with payloads of 0..=4,000 bytes,
//!   then `--churn-updates U` (default 10,000,000) updates of random rows to a random new
//!   length, once with automatic passes at their defaults (`[auto]`) and once with them off
//!   and `vacuum().await` after every 1,000,000 updates (`[every_1m]`); pages' bytes / live
//!   bytes at the end (and the highest seen, sampled every 10,000 updates).
//! * `insert`: N rows, 60% of them deleted at random, then `--vacuum-inserts M` (default
//!   500,000) inserts from one task, timed: `[no_vacuum]` with automatic passes off,
//!   `[vacuum]` with a `vacuum()` started in a spawned task as the inserts start, `[auto]`
//!   with automatic passes on and checked every 50 ms. Each on a table of its own.
//! * `dir`: a durable table (Buffered, automatic checkpoints and passes off) of N rows,
//!   `checkpoint()`, 90% deleted, `flush()`, one `vacuum().await`; the directory's bytes
//!   against the live rows' rkyv encodings.
//!
//! Prints `stat=<name> value=<v>` (sizes, ratios) and `op=<name> ns=<ns>` (times).

use std::sync::Arc;
use std::time::{Duration, Instant};
use worktable::prelude::*;
use worktable::{StorageStats, Table};

use crate::durable::{DurableRow, DurableWorkTable};
use crate::{BenchRow, BenchSchema};
use workload::*;

worktable!(
    name: Churn,
    columns: {
        id: u64 primary_key,
        len: u64,
        payload: String,
    }
);

unsafe extern "C" {
    /// glibc: gives free memory at the top of the heap and whole free pages inside it back
    /// to the system, in every arena.
    fn malloc_trim(pad: usize) -> i32;
    fn sysconf(name: i32) -> i64;
}

/// `_SC_PAGESIZE` on Linux.
const SC_PAGESIZE: i32 = 30;

/// Rows of the churn table.
const CHURN_ROWS: u64 = 10_000;
/// The longest churn payload.
const CHURN_MAX_LEN: u64 = 4_000;
/// Updates between two `vacuum()` calls of `churn[every_1m]`.
const CHURN_VACUUM_EVERY: u64 = 1_000_000;
/// Updates between two samples of the pages' ratio during the churn.
const CHURN_SAMPLE_EVERY: u64 = 10_000;

/// Resident bytes, from `/proc/self/statm` (its second field, in pages).
fn statm_rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("resident pages in /proc/self/statm");
    // SAFETY: sysconf only reads a constant of the system.
    pages * unsafe { sysconf(SC_PAGESIZE) } as u64
}

fn trim() {
    // SAFETY: malloc_trim only returns free memory; no pointer is touched.
    unsafe { malloc_trim(0) };
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map_or(default, |at| {
        args[at + 1]
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a number"))
    })
}

fn measure_arg() -> String {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--vacuum").expect("--vacuum");
    args.get(at + 1)
        .cloned()
        .expect("--vacuum rss|churn|insert|dir")
}

fn round_arg() -> u64 {
    arg("--round", 1)
}

fn fine(name: &str, value: f64) {
    println!("stat={name} value={value:.4}");
}

fn stats(prefix: &str, s: StorageStats) {
    stat(&format!("{prefix}.pages"), s.pages as f64);
    stat(&format!("{prefix}.page_bytes"), s.page_bytes() as f64);
    stat(&format!("{prefix}.live_bytes"), s.live_bytes as f64);
}

fn vacuum_report(prefix: &str, r: &VacuumReport) {
    stat(&format!("{prefix}.pages_freed"), r.pages_freed as f64);
    stat(&format!("{prefix}.rows_moved"), r.rows_moved as f64);
    stat(&format!("{prefix}.bytes_moved"), r.bytes_moved as f64);
    stat(&format!("{prefix}.pages_pending"), r.pages_pending as f64);
    stat(
        &format!("{prefix}.checkpoint"),
        f64::from(u8::from(r.checkpoint)),
    );
    report(&format!("{prefix}.elapsed"), r.elapsed, 1);
}

/// A whole operation's time, in ns.
fn report_once(name: &str, took: Duration) {
    report(name, took, 1);
}

fn config(vacuum: VacuumConfig) -> TableConfig {
    TableConfig {
        vacuum,
        ..TableConfig::default()
    }
}

fn no_auto() -> VacuumConfig {
    VacuumConfig {
        auto: false,
        ..VacuumConfig::default()
    }
}

type BenchTable = Table<BenchSchema>;

fn bench_row(table: &BenchTable, names: &[String], i: u64) -> BenchRow {
    BenchRow {
        id: u64::from(table.next_pk().expect("keys")),
        val: val_of(i),
        name: names[(i % NAMES) as usize].clone(),
        amount: amount_of(i),
    }
}

/// Loads rows `0..n` in batches of `BATCH` from one spawned task; returns the first key.
fn load(rt: &tokio::runtime::Runtime, table: &BenchTable, names: &Arc<Vec<String>>, n: u64) -> u64 {
    let (t, nm) = (table.clone(), names.clone());
    let (_, first) = timed_task(rt, async move {
        let mut first = None;
        for batch in (0..n).step_by(BATCH as usize) {
            let rows: Vec<BenchRow> = (batch..(batch + BATCH).min(n))
                .map(|i| bench_row(&t, &nm, i))
                .collect();
            let pks = t.insert_many(rows).await.expect("insert_many");
            first.get_or_insert(u64::from(pks[0].clone()));
        }
        first.expect("at least one row")
    });
    assert_eq!(table.count() as u64, n);
    first
}

/// Deletes the rows with keys `keys` from `TASKS` tasks.
fn delete_all(rt: &tokio::runtime::Runtime, table: &BenchTable, keys: Arc<Vec<u64>>) {
    timed_tasks(rt, |task| {
        let (t, keys) = (table.clone(), keys.clone());
        async move {
            for j in task_rows(task, keys.len() as u64) {
                t.delete(keys[j as usize].into()).await.expect("delete");
            }
        }
    });
}

pub fn run(names: &Arc<Vec<String>>) {
    let measure = measure_arg();
    let rts = Runtimes::default();
    match measure.as_str() {
        "rss" => rss(&rts, names, arg("--vacuum-rows", 1_000_000)),
        "churn" => churn(&rts, arg("--churn-updates", 10_000_000)),
        "insert" => insert(
            &rts,
            names,
            arg("--vacuum-rows", 1_000_000),
            arg("--vacuum-inserts", 500_000),
        ),
        "dir" => dir(&rts, names, arg("--vacuum-rows", 1_000_000)),
        other => panic!("unknown vacuum measure {other}"),
    }
}

/// `rss`: see the module's docs.
fn rss(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64) {
    println!("system=ours vacuum=rss rows={n}");
    let rt = rts.multi();
    let table = BenchTable::with_config(config(no_auto())).expect("table");
    // One row in and out, so the table's tasks run and the runtime's threads have
    // allocated before the first reading.
    let (t, nm) = (table.clone(), names.clone());
    rt.block_on(rt.spawn(async move {
        let pk = t.insert(bench_row(&t, &nm, 0)).await.expect("insert");
        t.delete(pk).await.expect("delete");
    }))
    .expect("the warm-up task");
    std::thread::sleep(Duration::from_millis(200));
    let empty = statm_rss();
    stats("rss.stats_empty", table.storage_stats());
    trim();
    let empty_trimmed = statm_rss();

    let first = load(rt, &table, names, n);
    let full = statm_rss();
    stats("rss.stats_full", table.storage_stats());
    delete_all(rt, &table, Arc::new((first..first + n).collect()));
    assert_eq!(table.count(), 0);
    let deleted = statm_rss();
    stats("rss.stats_deleted", table.storage_stats());

    let t = table.clone();
    let report = rt
        .block_on(rt.spawn(async move { t.vacuum().await }))
        .expect("the vacuum task")
        .expect("vacuum");
    vacuum_report("rss.vacuum", &report);
    let after = statm_rss();
    stats("rss.stats_after", table.storage_stats());
    trim();
    let after_trimmed = statm_rss();

    stat("rss.empty", empty as f64);
    stat("rss.full", full as f64);
    stat("rss.deleted", deleted as f64);
    stat("rss.after_vacuum", after as f64);
    fine("rss.ratio", after as f64 / empty as f64);
    stat("rss.empty_trimmed", empty_trimmed as f64);
    stat("rss.after_trimmed", after_trimmed as f64);
    fine(
        "rss.ratio_trimmed",
        after_trimmed as f64 / empty_trimmed as f64,
    );

    // Diagnostics, after the measure: a second pass (does anything wait on the first?),
    // then the table shut down and dropped (is what stays the table's at all?).
    std::thread::sleep(Duration::from_millis(500));
    let t = table.clone();
    let second = rt
        .block_on(rt.spawn(async move { t.vacuum().await }))
        .expect("the vacuum task")
        .expect("vacuum");
    vacuum_report("rss.second_vacuum", &second);
    trim();
    stat("rss.second_trimmed", statm_rss() as f64);
    rt.block_on(table.shutdown()).expect("shutdown");
    drop(table);
    std::thread::sleep(Duration::from_millis(500));
    trim();
    stat("rss.dropped_trimmed", statm_rss() as f64);
}

type ChurnTable = Table<ChurnSchema>;

/// `churn`: see the module's docs. The two variants, in an order rotated each round.
fn churn(rts: &Runtimes, updates: u64) {
    println!("system=ours vacuum=churn rows={CHURN_ROWS} updates={updates}");
    let variants = if round_arg() % 2 == 1 {
        [false, true]
    } else {
        [true, false]
    };
    for every_1m in variants {
        churn_variant(rts, updates, every_1m);
    }
}

fn churn_variant(rts: &Runtimes, updates: u64, every_1m: bool) {
    let name = if every_1m {
        "churn[every_1m]"
    } else {
        "churn[auto]"
    };
    let rt = rts.multi();
    let vacuum = if every_1m {
        no_auto()
    } else {
        VacuumConfig::default()
    };
    let table = ChurnTable::with_config(config(vacuum)).expect("table");
    let payload: Arc<str> = "x".repeat(CHURN_MAX_LEN as usize).into();
    let row = move |id: u64, len: u64| ChurnRow {
        id,
        len,
        payload: payload[..len as usize].to_string(),
    };
    let t = table.clone();
    let (elapsed, (peak, passes)) = timed_task(rt, async move {
        let mut rng = Rng(0xC0FFEE);
        for id in 0..CHURN_ROWS {
            let len = rng.below(CHURN_MAX_LEN + 1);
            t.insert(row(id, len)).await.expect("insert");
        }
        let (mut peak, mut passes) = (0f64, Vec::new());
        for j in 1..=updates {
            let (id, len) = (rng.below(CHURN_ROWS), rng.below(CHURN_MAX_LEN + 1));
            t.update(row(id, len)).await.expect("update");
            if j % CHURN_SAMPLE_EVERY == 0 {
                let s = t.storage_stats();
                peak = f64::max(peak, s.page_bytes() as f64 / s.live_bytes.max(1) as f64);
            }
            if every_1m && j % CHURN_VACUUM_EVERY == 0 {
                passes.push(t.vacuum().await.expect("vacuum"));
            }
        }
        (peak, passes)
    });
    report(&format!("{name}.update"), elapsed, updates);
    let s = table.storage_stats();
    let rows = table.select_all().execute().expect("select_all");
    assert_eq!(rows.len() as u64, CHURN_ROWS);
    let mut rng = Rng(0xC0FFEE);
    let mut lens: Vec<u64> = (0..CHURN_ROWS)
        .map(|_| rng.below(CHURN_MAX_LEN + 1))
        .collect();
    for _ in 0..updates {
        let (id, len) = (rng.below(CHURN_ROWS), rng.below(CHURN_MAX_LEN + 1));
        lens[id as usize] = len;
    }
    let mut encoded = 0u64;
    for r in &rows {
        assert_eq!(r.payload.len() as u64, lens[r.id as usize], "row {}", r.id);
        assert_eq!(r.len, lens[r.id as usize]);
        encoded += worktable::rkyv::to_bytes::<worktable::rkyv::rancor::Error>(r)
            .expect("encode")
            .len() as u64;
    }
    stats(name, s);
    stat(&format!("{name}.page_size"), s.page_size as f64);
    stat(&format!("{name}.encoded_bytes"), encoded as f64);
    fine(
        &format!("{name}.ratio"),
        s.page_bytes() as f64 / s.live_bytes as f64,
    );
    fine(
        &format!("{name}.ratio_encoded"),
        s.page_bytes() as f64 / encoded as f64,
    );
    fine(&format!("{name}.peak_ratio"), peak);
    if every_1m {
        stat(&format!("{name}.passes"), passes.len() as f64);
        stat(
            &format!("{name}.pages_freed"),
            passes.iter().map(|p| p.pages_freed).sum::<u64>() as f64,
        );
        stat(
            &format!("{name}.rows_moved"),
            passes.iter().map(|p| p.rows_moved).sum::<u64>() as f64,
        );
    }
    rt.block_on(table.shutdown()).expect("shutdown");
}

/// `insert`: see the module's docs. The three variants, in an order rotated each round.
fn insert(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64, m: u64) {
    println!("system=ours vacuum=insert rows={n} inserts={m}");
    let mut variants = ["no_vacuum", "vacuum", "auto"];
    variants.rotate_left((round_arg() % 3) as usize);
    let mut rates = std::collections::BTreeMap::new();
    for variant in variants {
        rates.insert(variant, insert_variant(rts, names, n, m, variant));
    }
    fine(
        "insert.ratio[vacuum]",
        rates["vacuum"].0 / rates["no_vacuum"].0,
    );
    if let Some(during) = rates["vacuum"].1 {
        fine("insert.ratio[during]", during / rates["no_vacuum"].0);
    }
    fine("insert.ratio[auto]", rates["auto"].0 / rates["no_vacuum"].0);
}

/// One variant of `insert`; returns its inserts per second, and for `vacuum` their rate
/// while the pass ran.
fn insert_variant(
    rts: &Runtimes,
    names: &Arc<Vec<String>>,
    n: u64,
    m: u64,
    variant: &str,
) -> (f64, Option<f64>) {
    let rt = rts.multi();
    let vacuum = if variant == "auto" {
        VacuumConfig {
            check_every: Duration::from_millis(50),
            ..VacuumConfig::default()
        }
    } else {
        no_auto()
    };
    let table = BenchTable::with_config(config(vacuum)).expect("table");
    let first = load(rt, &table, names, n);
    let doomed: Vec<u64> = permutation(11, n)
        .into_iter()
        .take((n * 6 / 10) as usize)
        .map(|k| first + k)
        .collect();
    let deleted = doomed.len() as u64;
    delete_all(rt, &table, Arc::new(doomed));
    let s = table.storage_stats();
    fine(
        &format!("insert[{variant}].live_share_before"),
        s.live_share(),
    );
    stats(&format!("insert[{variant}].before"), s);

    let (t, nm) = (table.clone(), names.clone());
    // The pass is asked for from a task of its own, started from this thread (so any
    // worker takes it), before the inserts start: a task spawned from the inserting task
    // would wait in that worker's next-task slot until the insert loop yields, which it
    // may not do before its end (a write that finds its shard idle completes at once).
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    let done = Arc::new(AtomicU64::new(0));
    let pass = (variant == "vacuum").then(|| {
        let (v, asked) = (
            table.clone(),
            Arc::new(std::sync::atomic::AtomicBool::new(false)),
        );
        let (flag, count) = (asked.clone(), done.clone());
        let pass = rt.spawn(async move {
            let start = Instant::now();
            let mut request = std::pin::pin!(v.vacuum());
            // Its first poll sends the request to the vacuum thread.
            let polled =
                std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
            flag.store(true, std::sync::atomic::Ordering::Release);
            let report = match polled {
                std::task::Poll::Ready(report) => report,
                std::task::Poll::Pending => request.await,
            };
            // Inserts made while the pass ran (it was asked for before the first).
            let during = count.load(Relaxed);
            (report.expect("vacuum"), start.elapsed(), during)
        });
        while !asked.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::yield_now();
        }
        pass
    });
    let count = done.clone();
    let (elapsed, ()) = timed_task(rt, async move {
        for i in n..n + m {
            t.insert(bench_row(&t, &nm, i)).await.expect("insert");
            count.fetch_add(1, Relaxed);
        }
    });
    let rate = m as f64 / elapsed.as_secs_f64();
    stat(&format!("insert[{variant}].per_s"), rate);
    report(&format!("insert[{variant}]"), elapsed, m);
    let mut rate_during = None;
    if let Some(pass) = pass {
        let (r, took, during) = rt.block_on(pass).expect("the vacuum task");
        vacuum_report(&format!("insert[{variant}].vacuum"), &r);
        // The inserts' rate while the pass ran: all of the loop's when the pass
        // outlasted it.
        let during_rate = if during < m {
            during as f64 / took.as_secs_f64()
        } else {
            rate
        };
        stat(&format!("insert[{variant}].per_s_during"), during_rate);
        rate_during = Some(during_rate);
        // How much of the insert loop the pass overlapped: 1 = all of it.
        fine(
            &format!("insert[{variant}].overlap"),
            (took.as_secs_f64() / elapsed.as_secs_f64()).min(1.0),
        );
    }
    stats(&format!("insert[{variant}].after"), table.storage_stats());
    assert_eq!(table.count() as u64, n - deleted + m);
    for i in (n..n + m).step_by(97) {
        let row = table
            .select_unique(|ix| &ix.val_idx, &val_of(i), |r| &r.val)
            .expect("an inserted row");
        assert_eq!(row.amount, amount_of(i));
    }
    rt.block_on(table.shutdown()).expect("shutdown");
    (rate, rate_during)
}

/// `dir`: see the module's docs.
fn dir(rts: &Runtimes, names: &Arc<Vec<String>>, n: u64) {
    println!("system=ours vacuum=dir rows={n}");
    let rt = rts.multi();
    let dir = temp_dir();
    let path = dir.path().join("table");
    let persist = PersistConfig {
        durability: Durability::Buffered,
        checkpoint_log_bytes: u64::MAX,
        table: Some(config(no_auto())),
        ..Default::default()
    };
    let table = rt
        .block_on(DurableWorkTable::open_with(&path, persist))
        .expect("open");
    let (t, nm) = (table.clone(), names.clone());
    let (_, first) = timed_task(rt, async move {
        let mut first = None;
        for batch in (0..n).step_by(BATCH as usize) {
            let rows: Vec<DurableRow> = (batch..(batch + BATCH).min(n))
                .map(|i| DurableRow {
                    id: t.get_next_pk().expect("keys").into(),
                    val: val_of(i),
                    name: nm[(i % NAMES) as usize].clone(),
                    amount: amount_of(i),
                })
                .collect();
            let pks = t.insert_many(rows).await.expect("insert_many");
            first.get_or_insert(u64::from(pks[0].clone()));
        }
        t.checkpoint().await.expect("checkpoint");
        first.expect("at least one row")
    });
    stat("dir.bytes_loaded", dir_bytes(&path) as f64);
    let doomed: Arc<Vec<u64>> = Arc::new(
        permutation(13, n)
            .into_iter()
            .take((n * 9 / 10) as usize)
            .map(|k| first + k)
            .collect(),
    );
    let deleted = doomed.len() as u64;
    timed_tasks(rt, |task| {
        let (t, doomed) = (table.clone(), doomed.clone());
        async move {
            for j in task_rows(task, doomed.len() as u64) {
                t.delete(doomed[j as usize]).await.expect("delete");
            }
        }
    });
    rt.block_on(table.flush()).expect("flush");
    stat("dir.bytes_deleted", dir_bytes(&path) as f64);
    stats("dir.stats_deleted", table.storage_stats());

    let t = table.clone();
    let (took, report) = timed_task(rt, async move { t.vacuum().await });
    let report = report.expect("vacuum");
    vacuum_report("dir.vacuum", &report);
    report_once("dir.vacuum_call", took);
    let after = dir_bytes(&path);
    stats("dir.stats_after", table.storage_stats());

    let rows = table.select_all().execute().expect("select_all");
    assert_eq!(rows.len() as u64, n - deleted);
    assert_eq!(table.count() as u64, n - deleted);
    let encoded = crate::durable::encoded_bytes(&rows);
    stat("dir.bytes_after", after as f64);
    stat("dir.encoded_bytes", encoded as f64);
    fine("dir.ratio", after as f64 / encoded as f64);
    rt.block_on(table.shutdown()).expect("shutdown");
}
