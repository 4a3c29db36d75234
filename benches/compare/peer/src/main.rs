//! The comparison workload on the `worktable` crate from crates.io, version 1.13.0 (the
//! peer; see ../README.md), through its documented API with its default index backends.
//!
//! Measures, in one process, for a table of `--rows N` rows
//! `{ id: u64 pk autoincrement, val: u64 unique, name: String indexed (1,000 names), amount: i64 }`:
//! `insert`, `update` (`replace`, its full-row update) and `delete`, each awaited one at a
//! time in three modes (`block_on` on the main thread of a 2-worker multi-thread tokio
//! runtime, a task spawned on it, `block_on` on a `current_thread` runtime; each mode on a
//! fresh table), `rss_per_row`, `select_pk`, `select_unique`, `select_pk_2threads`,
//! `select_nonunique`, `select_range` (`select_by_val_range`, its index range query),
//! `insert_64` (64 tasks on the 2-worker runtime sharing an `Arc` of the table: it is not
//! `Clone`) and `insert_many` (batches of 1,000, in a task spawned on it). Sync reads run on
//! plain threads. Every result is checked (rows found, counts and checksums
//! match) so a broken run panics instead of looking fast. Prints `op=<name> ns=<ns per op>`
//! and `rss_per_row=<bytes>`. With `--durable`, the durable measures instead (`durable.rs`);
//! with `--vacuum insert`, the vacuum measure it can run like ours (`vacuum.rs`).

use std::sync::Arc;
use worktable::prelude::*;
use worktable::worktable;

worktable!(
    name: Bench,
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

use workload::*;

mod durable;
mod vacuum;

fn row(table: &BenchWorkTable, names: &[String], i: u64) -> BenchRow {
    BenchRow {
        id: table.get_next_pk().into(),
        val: val_of(i),
        name: names[(i % NAMES) as usize].clone(),
        amount: amount_of(i),
    }
}

fn main() {
    if durable_arg() {
        return durable::run();
    }
    if std::env::args().any(|a| a == "--vacuum") {
        return vacuum::run(&Arc::new(names()));
    }
    let n = rows_arg();
    let rts = Runtimes::default();
    let names = Arc::new(names());
    println!("system=peer rows={n}");

    // 1. insert, 8. update, 11. delete, once per mode, each mode on a fresh table;
    // 2. rss_per_row and 3.-7. the reads on the first table, whatever its mode (see
    // `modes`).
    let before = rss_bytes();
    let modes = modes();
    for mode in modes {
        let table = Arc::new(BenchWorkTable::default());
        let (t, nm) = (table.clone(), names.clone());
        let first = rts.run(
            mode,
            insert_rows(n, async move |i| {
                u64::from(t.insert(row(&t, &nm, i)).await.expect("insert"))
            }),
        );
        assert_eq!(table.count() as u64, n);
        if mode == modes[0] {
            report_rss(before, n);
            reads(&table, &names, n, first);
        }

        // update: full row, new amount and name, N random rows
        let (t, nm) = (table.clone(), names.clone());
        rts.run(
            mode,
            update_rows(n, async move |u| {
                let row = BenchRow {
                    id: first + u.k,
                    val: u.val,
                    name: nm[u.name].clone(),
                    amount: u.amount,
                };
                t.replace(row).await.expect("update");
            }),
        );
        check_updates(n, &names, |k| {
            let row = table.select(first + k).expect("updated row");
            (row.amount, row.name)
        });

        // delete: N/2 distinct random rows
        let t = table.clone();
        rts.run(
            mode,
            delete_rows(n, async move |k| {
                t.delete(first + k).await.expect("delete");
            }),
        );
        check_deletes(n, table.count() as u64, |k| {
            table.select(first + k).is_some()
        });
    }

    // 9. insert_64: 64 tasks, each with a clone of the handle, into a fresh table
    let table = Arc::new(BenchWorkTable::default());
    let elapsed = timed_tasks(rts.multi(), |task| {
        let (t, nm) = (table.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                t.insert(row(&t, &nm, i)).await.expect("insert_64");
            }
        }
    });
    report("insert_64", elapsed, n);
    check_loaded("insert_64", n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
    drop(table);

    // 10. insert_many: fresh table, batches of 1,000 rows
    insert_many(rts.multi(), &names, n);
}

/// 3. select_pk, 4. select_unique, 5. select_pk_2threads, 6. select_nonunique,
/// 7. select_range, on the loaded table whose keys start at `first`.
fn reads(table: &Arc<BenchWorkTable>, names: &[String], n: u64, first: u64) {
    select_pk(n, |k| table.select(first + k).expect("select_pk").val);
    select_unique(n, first, |val| {
        table.select_by_val(val).expect("select_unique").id
    });

    let lookup = {
        let table = table.clone();
        move |k| table.select(first + k).expect("select_pk_2threads").val
    };
    two_threads(n, lookup);

    select_nonunique(n, |name| {
        let rows = table
            .select_by_name(names[name].clone())
            .execute()
            .expect("select_nonunique");
        let amounts = rows
            .iter()
            .fold(0u64, |s, r| s.wrapping_add(r.amount as u64));
        (rows.len() as u64, amounts)
    });

    // val in [s, s + span), ~200 rows, newest 100 by val descending
    select_range(n, |start, end| {
        let rows = table
            .select_by_val_range(start..end)
            .order_on(BenchRowFields::Val, Order::Desc)
            .limit(100)
            .execute()
            .expect("select_range");
        ranked(rows.iter().map(|r| r.val))
    });
}

fn insert_many(rt: &tokio::runtime::Runtime, names: &Arc<Vec<String>>, n: u64) {
    let table = Arc::new(BenchWorkTable::default());
    let (t, nm) = (table.clone(), names.clone());
    let (elapsed, ()) = timed_task(rt, async move {
        for batch in (0..n).step_by(BATCH as usize) {
            let rows: Vec<BenchRow> = (batch..(batch + BATCH).min(n))
                .map(|i| row(&t, &nm, i))
                .collect();
            let len = rows.len();
            let pks: Vec<BenchPrimaryKey> = t.insert_many(rows).await.expect("insert_many");
            assert_eq!(pks.len(), len);
        }
    });
    report("insert_many", elapsed, n);
    check_loaded("insert_many", n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
}
