//! The comparison workload on a baseline: `parking_lot::RwLock<std::collections::BTreeMap>`
//! for the rows, a second one (val -> id) for the unique index and a third
//! (`BTreeSet<(name, id)>`) for the non-unique index, so it maintains the same indexes as
//! the other systems. See ../README.md.
//!
//! Measures, in one process, for a table of `--rows N` rows
//! `{ id: u64 pk autoincrement, val: u64 unique, name: String indexed (1,000 names), amount: i64 }`:
//! `insert`, `update` (full row) and `delete`, plain loops (its API is synchronous) run once
//! per mode of the async systems (the same loop each time, on a fresh table), `rss_per_row`,
//! `select_pk`, `select_unique`, `select_pk_2threads`, `select_nonunique`, `select_range`,
//! `insert_64` (64 tokio tasks on a 2-worker runtime sharing an `Arc`) and
//! `insert_many` (one write lock per batch of 1,000). Every result is checked (rows found,
//! counts and checksums match) so a broken run panics instead of looking fast. Prints
//! `op=<name> ns=<ns per op>` and `rss_per_row=<bytes>`.

use parking_lot::RwLock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use workload::*;

#[derive(Clone, Debug)]
struct Row {
    id: u64,
    val: u64,
    name: String,
    amount: i64,
}

/// Lock order for writes: rows, then by_val, then by_name.
#[derive(Default)]
struct Table {
    next: AtomicU64,
    rows: RwLock<BTreeMap<u64, Row>>,
    by_val: RwLock<BTreeMap<u64, u64>>,
    by_name: RwLock<BTreeSet<(String, u64)>>,
}

impl Table {
    fn next_pk(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
    fn count(&self) -> usize {
        self.rows.read().len()
    }
    fn select(&self, id: u64) -> Option<Row> {
        self.rows.read().get(&id).cloned()
    }
    fn select_by_val(&self, val: u64) -> Option<Row> {
        let id = *self.by_val.read().get(&val)?;
        self.select(id)
    }
    fn select_by_name(&self, name: &str) -> Vec<Row> {
        let ids: Vec<u64> = self
            .by_name
            .read()
            .range((name.to_string(), 0)..=(name.to_string(), u64::MAX))
            .map(|(_, id)| *id)
            .collect();
        let rows = self.rows.read();
        ids.iter().filter_map(|id| rows.get(id).cloned()).collect()
    }
    fn select_val_range_desc(&self, range: std::ops::Range<u64>, limit: usize) -> Vec<Row> {
        let ids: Vec<u64> = self
            .by_val
            .read()
            .range(range)
            .rev()
            .take(limit)
            .map(|(_, id)| *id)
            .collect();
        let rows = self.rows.read();
        ids.iter().filter_map(|id| rows.get(id).cloned()).collect()
    }
    /// All or nothing: a taken key or value refuses the whole batch.
    fn insert_many(&self, batch: Vec<Row>) -> Result<Vec<u64>, &'static str> {
        let mut rows = self.rows.write();
        let mut by_val = self.by_val.write();
        let mut seen = BTreeSet::new();
        for row in &batch {
            if rows.contains_key(&row.id) || !seen.insert(row.id) {
                return Err("primary key taken");
            }
            if by_val.contains_key(&row.val) {
                return Err("val taken");
            }
        }
        let mut by_name = self.by_name.write();
        let mut ids = Vec::with_capacity(batch.len());
        for row in batch {
            if by_val.insert(row.val, row.id).is_some() {
                panic!("duplicate val inside one batch"); // never in this workload
            }
            by_name.insert((row.name.clone(), row.id));
            ids.push(row.id);
            rows.insert(row.id, row);
        }
        Ok(ids)
    }
    fn insert(&self, row: Row) -> Result<u64, &'static str> {
        let mut rows = self.rows.write();
        if rows.contains_key(&row.id) {
            return Err("primary key taken");
        }
        let mut by_val = self.by_val.write();
        if by_val.contains_key(&row.val) {
            return Err("val taken");
        }
        by_val.insert(row.val, row.id);
        self.by_name.write().insert((row.name.clone(), row.id));
        let id = row.id;
        rows.insert(id, row);
        Ok(id)
    }
    fn update(&self, row: Row) -> Result<(), &'static str> {
        let mut rows = self.rows.write();
        let old = rows.get_mut(&row.id).ok_or("not found")?;
        if old.val != row.val {
            let mut by_val = self.by_val.write();
            if by_val.contains_key(&row.val) {
                return Err("val taken");
            }
            by_val.remove(&old.val);
            by_val.insert(row.val, row.id);
        }
        if old.name != row.name {
            let mut by_name = self.by_name.write();
            by_name.remove(&(std::mem::take(&mut old.name), row.id));
            by_name.insert((row.name.clone(), row.id));
        }
        *old = row;
        Ok(())
    }
    fn delete(&self, id: u64) -> Result<(), &'static str> {
        let mut rows = self.rows.write();
        let row = rows.remove(&id).ok_or("not found")?;
        self.by_val.write().remove(&row.val);
        self.by_name.write().remove(&(row.name, id));
        Ok(())
    }
}

fn row(table: &Table, names: &[String], i: u64) -> Row {
    Row {
        id: table.next_pk(),
        val: val_of(i),
        name: names[(i % NAMES) as usize].clone(),
        amount: amount_of(i),
    }
}

fn main() {
    let n = rows_arg();
    let rts = Runtimes::default();
    let names = Arc::new(names());
    println!("system=btree rows={n}");

    // 1. insert, 8. update, 11. delete, once per mode (the same plain loop each time), each
    // mode on a fresh table; 2. rss_per_row and 3.-7. the reads on the first table, whatever
    // its mode (see `modes`).
    let before = rss_bytes();
    let modes = modes();
    for mode in modes {
        let table = Arc::new(Table::default());
        let first = insert_rows_sync(mode, n, |i| {
            table.insert(row(&table, &names, i)).expect("insert")
        });
        assert_eq!(table.count() as u64, n);
        if mode == modes[0] {
            report_rss(before, n);
            reads(&table, &names, n, first);
        }

        // update: full row, new amount and name, N random rows
        update_rows_sync(mode, n, |u| {
            let row = Row {
                id: first + u.k,
                val: u.val,
                name: names[u.name].clone(),
                amount: u.amount,
            };
            table.update(row).expect("update");
        });
        check_updates(n, &names, |k| {
            let row = table.select(first + k).expect("updated row");
            (row.amount, row.name)
        });

        // delete: N/2 distinct random rows
        delete_rows_sync(mode, n, |k| table.delete(first + k).expect("delete"));
        check_deletes(n, table.count() as u64, |k| {
            table.select(first + k).is_some()
        });
    }

    // 9. insert_64: 64 tasks, each with a clone of the handle, into a fresh table
    let table = Arc::new(Table::default());
    let elapsed = timed_tasks(rts.multi(), |task| {
        let (t, nm) = (table.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                t.insert(row(&t, &nm, i)).expect("insert_64");
            }
        }
    });
    report("insert_64", elapsed, n);
    check_loaded("insert_64", n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
    drop(table);

    // 10. insert_many: fresh table, one write lock per batch of 1,000 rows
    let table = Table::default();
    let start = Instant::now();
    for batch in (0..n).step_by(BATCH as usize) {
        let rows: Vec<Row> = (batch..(batch + BATCH).min(n))
            .map(|i| row(&table, &names, i))
            .collect();
        let len = rows.len();
        assert_eq!(table.insert_many(rows).expect("insert_many").len(), len);
    }
    report("insert_many", start.elapsed(), n);
    check_loaded("insert_many", n, table.count() as u64, |val| {
        table.select_by_val(val).map(|r| r.amount)
    });
}

/// 3. select_pk, 4. select_unique, 5. select_pk_2threads, 6. select_nonunique,
/// 7. select_range, on the loaded table whose keys start at `first`.
fn reads(table: &Arc<Table>, names: &[String], n: u64, first: u64) {
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
        let rows = table.select_by_name(&names[name]);
        let amounts = rows
            .iter()
            .fold(0u64, |s, r| s.wrapping_add(r.amount as u64));
        (rows.len() as u64, amounts)
    });

    // val in [s, s + span), ~200 rows, newest 100 by val descending
    select_range(n, |start, end| {
        let rows = table.select_val_range_desc(start..end, 100);
        ranked(rows.iter().map(|r| r.val))
    });
}
