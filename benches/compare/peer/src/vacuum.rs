//! The vacuum measure the peer can run like ours (`--vacuum insert`; see ../README.md, "The
//! vacuum measures"): N rows, 60% deleted at random, then `--vacuum-inserts M` inserts
//! from one spawned task, timed, `[no_vacuum]` and `[vacuum]` (a sweep of its vacuum,
//! `table.vacuum().vacuum().await` with its default pacing, asked for from a task of its
//! own just before the inserts start). The peer runs no vacuum unless one is started (its
//! `VacuumManager` is opt-in), so `[no_vacuum]` is its default table. Its other vacuum
//! measures are not run: it prints `skip` lines for them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use worktable::prelude::*;

use crate::{BenchRow, BenchWorkTable, row};
use workload::*;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map_or(default, |at| {
        args[at + 1]
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a number"))
    })
}

fn fine(name: &str, value: f64) {
    println!("stat={name} value={value:.4}");
}

pub fn run(names: &Arc<Vec<String>>) {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--vacuum").expect("--vacuum");
    let measure = args.get(at + 1).cloned().unwrap_or_default();
    if measure != "insert" {
        println!("skip op=vacuum.{measure} reason=not run on the peer");
        return;
    }
    let (n, m) = (
        arg("--vacuum-rows", 1_000_000),
        arg("--vacuum-inserts", 500_000),
    );
    let rts = Runtimes::default();
    println!("system=peer vacuum=insert rows={n} inserts={m}");
    let mut variants = ["no_vacuum", "vacuum"];
    variants.rotate_left((arg("--round", 1) % 2) as usize);
    let mut rates = std::collections::BTreeMap::new();
    for variant in variants {
        rates.insert(variant, variant_run(&rts, names, n, m, variant));
    }
    fine(
        "insert.ratio[vacuum]",
        rates["vacuum"].0 / rates["no_vacuum"].0,
    );
    if let Some(during) = rates["vacuum"].1 {
        fine("insert.ratio[during]", during / rates["no_vacuum"].0);
    }
}

fn variant_run(
    rts: &Runtimes,
    names: &Arc<Vec<String>>,
    n: u64,
    m: u64,
    variant: &str,
) -> (f64, Option<f64>) {
    let rt = rts.multi();
    let table = Arc::new(BenchWorkTable::default());
    let (t, nm) = (table.clone(), names.clone());
    let (_, first) = timed_task(rt, async move {
        let mut first = None;
        for batch in (0..n).step_by(BATCH as usize) {
            let rows: Vec<BenchRow> = (batch..(batch + BATCH).min(n))
                .map(|i| row(&t, &nm, i))
                .collect();
            let pks = t.insert_many(rows).await.expect("insert_many");
            first.get_or_insert(u64::from(pks[0].clone()));
        }
        first.expect("at least one row")
    });
    assert_eq!(table.count() as u64, n);
    let doomed: Arc<Vec<u64>> = Arc::new(
        permutation(11, n)
            .into_iter()
            .take((n * 6 / 10) as usize)
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

    let done = Arc::new(AtomicU64::new(0));
    let pass = (variant == "vacuum").then(|| {
        let (sweep, asked, count) = (
            table.vacuum(),
            Arc::new(AtomicBool::new(false)),
            done.clone(),
        );
        let flag = asked.clone();
        let pass = rt.spawn(async move {
            let start = Instant::now();
            let mut request = std::pin::pin!(sweep.vacuum());
            let polled =
                std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
            flag.store(true, Ordering::Release);
            let stats = match polled {
                std::task::Poll::Ready(stats) => stats,
                std::task::Poll::Pending => request.await,
            };
            let during = count.load(Ordering::Relaxed);
            (stats.expect("vacuum"), start.elapsed(), during)
        });
        while !asked.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        pass
    });
    let (t, nm, count) = (table.clone(), names.clone(), done.clone());
    let (elapsed, ()) = timed_task(rt, async move {
        for i in n..n + m {
            t.insert(row(&t, &nm, i)).await.expect("insert");
            count.fetch_add(1, Ordering::Relaxed);
        }
    });
    let rate = m as f64 / elapsed.as_secs_f64();
    stat(&format!("insert[{variant}].per_s"), rate);
    report(&format!("insert[{variant}]"), elapsed, m);
    let mut rate_during = None;
    if let Some(pass) = pass {
        let (stats, took, during) = rt.block_on(pass).expect("the vacuum task");
        stat(
            &format!("insert[{variant}].vacuum.pages_freed"),
            stats.pages_freed as f64,
        );
        report(
            &format!("insert[{variant}].vacuum.elapsed"),
            Duration::from_nanos(stats.duration_ns as u64),
            1,
        );
        fine(
            &format!("insert[{variant}].overlap"),
            (took.as_secs_f64() / elapsed.as_secs_f64()).min(1.0),
        );
        // The inserts' rate while the pass ran: all of the loop's when the pass
        // outlasted it.
        let during_rate = if during < m {
            during as f64 / took.as_secs_f64()
        } else {
            rate
        };
        stat(&format!("insert[{variant}].per_s_during"), during_rate);
        rate_during = Some(during_rate);
    }
    assert_eq!(table.count() as u64, n - deleted + m);
    for i in (n..n + m).step_by(97) {
        let row = table.select_by_val(val_of(i)).expect("an inserted row");
        assert_eq!(row.amount, amount_of(i));
    }
    (rate, rate_during)
}
