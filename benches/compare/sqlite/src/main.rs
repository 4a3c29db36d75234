//! The comparison workload on SQLite `:memory:` through rusqlite (bundled SQLite), with
//! prepared statements. See ../README.md.
//!
//! Schema: `id INTEGER PRIMARY KEY` (the rowid, assigned by SQLite), `val` with a UNIQUE
//! index, `name` with a non-unique index, `amount`. Measures, in one process, for `--rows N`
//! rows: `insert` (a plain loop, autocommit: one transaction per row), `update` (every
//! column) and `delete`, each run once per mode of the async systems (the same plain loop
//! each time, on a fresh connection), `rss_per_row`,
//! `select_pk`, `select_unique`, `select_pk_2threads` (one connection is not `Sync`: two
//! threads share it behind a `parking_lot::Mutex`, each lookup taking the lock and its cached
//! prepared statement), `select_nonunique`, `select_range` (`WHERE val >= ? AND val < ? ORDER
//! BY val DESC LIMIT 100`), `insert_64` (64 tokio tasks on
//! a 2-worker runtime sharing the connection behind the mutex) and `insert_many` (one
//! transaction per batch of 1,000). Every result is checked (rows found, counts and checksums
//! match) so a broken run panics instead of looking fast. Prints `op=<name> ns=<ns per op>`
//! and `rss_per_row=<bytes>`. With `--durable`, the durable measures instead (`durable.rs`).

use parking_lot::Mutex;
use rusqlite::{Connection, params};
use std::sync::Arc;
use std::time::Instant;

use workload::*;

mod durable;

#[derive(Debug)]
#[allow(dead_code)]
struct Row {
    id: u64,
    val: u64,
    name: String,
    amount: i64,
}

const SCHEMA: &str = "CREATE TABLE bench (id INTEGER PRIMARY KEY, val INTEGER NOT NULL, \
                      name TEXT NOT NULL, amount INTEGER NOT NULL);
                      CREATE UNIQUE INDEX bench_val ON bench (val);
                      CREATE INDEX bench_name ON bench (name);";
const INSERT: &str = "INSERT INTO bench (val, name, amount) VALUES (?1, ?2, ?3)";
const BY_ID: &str = "SELECT id, val, name, amount FROM bench WHERE id = ?1";
const BY_VAL: &str = "SELECT id, val, name, amount FROM bench WHERE val = ?1";
const BY_NAME: &str = "SELECT id, val, name, amount FROM bench WHERE name = ?1";
const RANGE: &str = "SELECT id, val, name, amount FROM bench WHERE val >= ?1 AND val < ?2 ORDER BY val DESC LIMIT 100";
const UPDATE: &str = "UPDATE bench SET val = ?2, name = ?3, amount = ?4 WHERE id = ?1";
const DELETE: &str = "DELETE FROM bench WHERE id = ?1";

fn open() -> Connection {
    let conn = Connection::open_in_memory().expect("open :memory:");
    conn.execute_batch(SCHEMA).expect("schema");
    conn.set_prepared_statement_cache_capacity(32);
    conn
}
fn to_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        val: r.get(1)?,
        name: r.get(2)?,
        amount: r.get(3)?,
    })
}
fn count(conn: &Connection) -> u64 {
    conn.query_row("SELECT count(*) FROM bench", [], |r| r.get(0))
        .unwrap()
}

fn main() {
    if durable_arg() {
        return durable::run();
    }
    let n = rows_arg();
    let rts = Runtimes::default();
    let names = Arc::new(names());
    println!("system=sqlite rows={n}");

    // 1. insert, 8. update, 11. delete, once per mode (the same plain loop each time), each
    // mode on a fresh connection; 2. rss_per_row and 3.-7. the reads on the first
    // connection, whatever its mode (see `modes`).
    let before = rss_bytes();
    let modes = modes();
    for mode in modes {
        let shared = Arc::new(Mutex::new(open()));
        let first = {
            let conn = shared.lock();
            let mut st = conn.prepare(INSERT).unwrap();
            let first = insert_rows_sync(mode, n, |i| {
                st.insert(params![
                    val_of(i),
                    names[(i % NAMES) as usize],
                    amount_of(i)
                ])
                .expect("insert") as u64
            });
            assert_eq!(count(&conn), n);
            first
        };
        if mode == modes[0] {
            report_rss(before, n);
            reads(&shared, &names, n, first);
        }
        let conn = shared.lock();
        let mut by_id = conn.prepare(BY_ID).unwrap();

        // update: every column, new amount and name, N random rows
        let mut st = conn.prepare(UPDATE).unwrap();
        update_rows_sync(mode, n, |u| {
            let changed = st
                .execute(params![first + u.k, u.val, names[u.name], u.amount])
                .expect("update");
            assert_eq!(changed, 1, "update found its row");
        });
        check_updates(n, &names, |k| {
            let row = by_id.query_row([first + k], to_row).expect("updated row");
            (row.amount, row.name)
        });

        // delete: N/2 distinct random rows
        let mut st = conn.prepare(DELETE).unwrap();
        delete_rows_sync(mode, n, |k| {
            assert_eq!(
                st.execute([first + k]).expect("delete"),
                1,
                "delete found its row"
            );
        });
        check_deletes(n, count(&conn), |k| {
            by_id.query_row([first + k], to_row).is_ok()
        });
    }

    // 9. insert_64: 64 tasks sharing a fresh connection behind its mutex
    let shared = Arc::new(Mutex::new(open()));
    let elapsed = timed_tasks(rts.multi(), |task| {
        let (shared, nm) = (shared.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                let conn = shared.lock();
                let mut st = conn.prepare_cached(INSERT).unwrap();
                st.insert(params![val_of(i), nm[(i % NAMES) as usize], amount_of(i)])
                    .expect("insert_64");
            }
        }
    });
    report("insert_64", elapsed, n);
    {
        let conn = shared.lock();
        let mut by_val = conn.prepare(BY_VAL).unwrap();
        check_loaded("insert_64", n, count(&conn), |val| {
            by_val.query_row([val], to_row).ok().map(|r| r.amount)
        });
    }
    drop(shared);

    // 10. insert_many: fresh connection, one transaction per batch of 1,000 rows
    let conn = open();
    let start = Instant::now();
    for batch in (0..n).step_by(BATCH as usize) {
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut st = tx.prepare_cached(INSERT).unwrap();
            for i in batch..(batch + BATCH).min(n) {
                st.insert(params![
                    val_of(i),
                    names[(i % NAMES) as usize],
                    amount_of(i)
                ])
                .expect("insert_many");
            }
        }
        tx.commit().expect("commit");
    }
    report("insert_many", start.elapsed(), n);
    let mut by_val = conn.prepare(BY_VAL).unwrap();
    check_loaded("insert_many", n, count(&conn), |val| {
        by_val.query_row([val], to_row).ok().map(|r| r.amount)
    });
}

/// 3. select_pk, 4. select_unique, 5. select_pk_2threads, 6. select_nonunique,
/// 7. select_range, on the loaded connection whose keys start at `first`.
fn reads(shared: &Arc<Mutex<Connection>>, names: &[String], n: u64, first: u64) {
    {
        let conn = shared.lock();
        let mut st = conn.prepare(BY_ID).unwrap();
        select_pk(n, |k| {
            st.query_row([first + k], to_row).expect("select_pk").val
        });
        let mut st = conn.prepare(BY_VAL).unwrap();
        select_unique(n, first, |val| {
            st.query_row([val], to_row).expect("select_unique").id
        });
    }

    // the one connection behind its mutex
    let lookup = {
        let shared = shared.clone();
        move |k| {
            let conn = shared.lock();
            let mut st = conn.prepare_cached(BY_ID).unwrap();
            st.query_row([first + k], to_row)
                .expect("select_pk_2threads")
                .val
        }
    };
    two_threads(n, lookup);

    let conn = shared.lock();
    let mut st = conn.prepare(BY_NAME).unwrap();
    select_nonunique(n, |name| {
        let rows: Vec<Row> = st
            .query_map([&names[name]], to_row)
            .unwrap()
            .collect::<Result<_, _>>()
            .expect("select_nonunique");
        let amounts = rows
            .iter()
            .fold(0u64, |s, r| s.wrapping_add(r.amount as u64));
        (rows.len() as u64, amounts)
    });

    // val in [s, s + span), ~200 rows, newest 100 by val descending
    let mut st = conn.prepare(RANGE).unwrap();
    select_range(n, |start, end| {
        let rows: Vec<Row> = st
            .query_map([start, end], to_row)
            .unwrap()
            .collect::<Result<_, _>>()
            .expect("select_range");
        ranked(rows.iter().map(|r| r.val))
    });
}
