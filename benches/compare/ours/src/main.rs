//! The comparison workload on this repository's `worktable` crate (see ../README.md).
//!
//! Measures, in one process, for a table of `--rows N` rows
//! `{ id: u64 pk autoincrement, val: u64 unique, name: String indexed (1,000 names), amount: i64 }`:
//! `insert` (one spawned task awaiting each), `rss_per_row`, `select_pk`, `select_unique`,
//! `select_pk_2threads`, `select_nonunique`, `select_range`, `update` (full row),
//! `delete`, `insert_64` (64 tasks) and `insert_many` (batches of 1,000). Async work runs in
//! a spawned task on a 2-worker multi-thread tokio runtime; sync reads run on plain threads.
//! Every result is checked (rows found, counts and checksums match) so a broken run panics
//! instead of looking fast. Prints `op=<name> ns=<ns per op>` and `rss_per_row=<bytes>`.

use std::sync::Arc;
use worktable::prelude::*;

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
    }
);

use workload::*;

fn row(table: &BenchWorkTable, names: &[String], i: u64) -> BenchRow {
    BenchRow {
        id: table
            .get_next_pk()
            .expect("u64 keys are far from exhausted")
            .into(),
        val: val_of(i),
        name: names[(i % NAMES) as usize].clone(),
        amount: amount_of(i),
    }
}

fn main() {
    let n = rows_arg();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let names = Arc::new(names());
    println!("system=ours rows={n}");

    // 1. insert, 2. rss_per_row
    let before = rss_bytes();
    let table = BenchWorkTable::default();
    let (t, nm) = (table.clone(), names.clone());
    let (elapsed, first) = timed_task(&rt, async move {
        let mut first = 0;
        for i in 0..n {
            let pk = u64::from(t.insert(row(&t, &nm, i)).await.expect("insert"));
            if i == 0 {
                first = pk;
            }
            assert_eq!(pk, first + i, "autoincrement keys");
        }
        first
    });
    report("insert", elapsed, n);
    report_rss(before, n);
    assert_eq!(table.count() as u64, n);

    // 3. select_pk, 4. select_unique
    select_pk(n, |k| table.select(first + k).expect("select_pk").val);
    select_unique(n, first, |val| {
        table.select_by_val(val).expect("select_unique").id
    });

    // 5. select_pk_2threads
    let lookup = {
        let table = table.clone();
        move |k| table.select(first + k).expect("select_pk_2threads").val
    };
    two_threads(n, lookup);

    // 6. select_nonunique
    select_nonunique(n, |name| {
        let rows = table
            .select_by_name(names[name].as_str())
            .execute()
            .expect("select_nonunique");
        let amounts = rows
            .iter()
            .fold(0u64, |s, r| s.wrapping_add(r.amount as u64));
        (rows.len() as u64, amounts)
    });

    // 7. select_range: val in [s, s + span), ~200 rows, newest 100 by val descending
    select_range(n, |start, end| {
        let rows = table
            .select_all()
            .where_by(start..end, "val")
            .order_by(Order::Desc, "val")
            .limit(100)
            .execute()
            .expect("select_range");
        ranked(rows.iter().map(|r| r.val))
    });

    // 8. update: full row, new amount and name, N random rows
    let (t, nm) = (table.clone(), names.clone());
    let (elapsed, ()) = timed_task(&rt, async move {
        for u in update_plan(n) {
            let row = BenchRow {
                id: first + u.k,
                val: u.val,
                name: nm[u.name].clone(),
                amount: u.amount,
            };
            t.update(row).await.expect("update");
        }
    });
    report("update", elapsed, n);
    check_updates(n, &names, |k| {
        let row = table.select(first + k).expect("updated row");
        (row.amount, row.name)
    });

    // 11. delete: N/2 distinct random rows
    let t = table.clone();
    let (elapsed, ()) = timed_task(&rt, async move {
        for k in delete_order(n) {
            t.delete(first + k).await.expect("delete");
        }
    });
    report("delete", elapsed, n / 2);
    check_deletes(n, table.count() as u64, |k| {
        table.select(first + k).is_some()
    });
    rt.block_on(table.shutdown()).expect("shutdown");
    drop(table);

    // 9. insert_64: 64 tasks, each with a clone of the handle, into a fresh table
    let table = BenchWorkTable::default();
    let elapsed = timed_tasks(&rt, |task| {
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
    rt.block_on(table.shutdown()).expect("shutdown");
    drop(table);

    // 10. insert_many: fresh table, batches of 1,000 rows
    insert_many(&rt, &names, n);
}

fn insert_many(rt: &tokio::runtime::Runtime, names: &Arc<Vec<String>>, n: u64) {
    let table = BenchWorkTable::default();
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
