//! The durable measures on SQLite (`--durable`; see ../README.md, "The durable comparison"):
//! a database FILE in a fresh temp directory, `PRAGMA journal_mode=WAL` and `PRAGMA
//! synchronous=FULL` (a commit returns after the WAL is fsynced), autocommit (one
//! transaction, so one fsync, per row), the schema and prepared statements of the
//! in-memory program.
//!
//! * `fdatasync_256`: the floor, a 256-byte append + `fdatasync` in the same directory.
//! * `sync_insert_latency`: one writer (the main thread), median latency of one insert.
//! * `sync_insert_64`: 64 tokio tasks on the 2-worker runtime sharing one connection
//!   behind a mutex (as in the in-memory `insert_64`); wall time / N.
//! * `sync_insert_64[conns]`: 64 connections to the one file, one per task, each task's
//!   loop on a blocking thread (`spawn_blocking`, so 64 writers are in SQLite at once and
//!   wait on its write lock, `busy_timeout` 60 s); wall time / N.

use parking_lot::Mutex;
use rusqlite::{Connection, params};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::{BY_VAL, INSERT, SCHEMA, count, to_row};
use workload::*;

/// Opens (creating it with the schema when `create`) the database file at `path`, in WAL
/// mode with `synchronous=FULL`.
fn open_file(path: &Path, create: bool) -> Connection {
    let conn = Connection::open(path).expect("open the database file");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal", "WAL mode");
    conn.execute_batch("PRAGMA synchronous=FULL")
        .expect("synchronous=FULL");
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("synchronous");
    assert_eq!(sync, 2, "synchronous=FULL");
    conn.busy_timeout(Duration::from_secs(60))
        .expect("busy_timeout");
    if create {
        conn.execute_batch(SCHEMA).expect("schema");
    }
    conn.set_prepared_statement_cache_capacity(32);
    conn
}

fn check(conn: &Connection, op: &str, n: u64) {
    let mut by_val = conn.prepare(BY_VAL).unwrap();
    check_loaded(op, n, count(conn), |val| {
        by_val.query_row([val], to_row).ok().map(|r| r.amount)
    });
}

pub fn run() {
    let n = rows_arg();
    let rts = Runtimes::default();
    let names = Arc::new(names());
    println!("system=sqlite durable rows={n}");

    // The floor and one writer's latency, in one directory.
    let dir = temp_dir();
    fdatasync_floor(dir.path());
    {
        let conn = open_file(&dir.path().join("bench.db"), true);
        let mut st = conn.prepare(INSERT).unwrap();
        let samples = latencies_sync(|i| {
            st.insert(params![
                val_of(i),
                names[(i % NAMES) as usize],
                amount_of(i)
            ])
            .expect("insert");
        });
        report_latency("sync_insert_latency", &samples);
        drop(st);
        check(&conn, "sync_insert_latency", samples.len() as u64);
    }
    drop(dir);

    // 64 tasks sharing one connection behind a mutex.
    let dir = temp_dir();
    let shared = Arc::new(Mutex::new(open_file(&dir.path().join("bench.db"), true)));
    let elapsed = timed_tasks(rts.multi(), |task| {
        let (shared, nm) = (shared.clone(), names.clone());
        async move {
            for i in task_rows(task, n) {
                let conn = shared.lock();
                let mut st = conn.prepare_cached(INSERT).unwrap();
                st.insert(params![val_of(i), nm[(i % NAMES) as usize], amount_of(i)])
                    .expect("sync_insert_64");
            }
        }
    });
    report("sync_insert_64", elapsed, n);
    check(&shared.lock(), "sync_insert_64", n);
    drop(shared);
    drop(dir);

    // 64 connections, one per task, each task's loop on a blocking thread.
    let dir = temp_dir();
    let path = dir.path().join("bench.db");
    let first = open_file(&path, true);
    let conns: Vec<Mutex<Option<Connection>>> = (0..TASKS)
        .map(|_| Mutex::new(Some(open_file(&path, false))))
        .collect();
    let elapsed = timed_tasks(rts.multi(), |task| {
        let conn = conns[task as usize]
            .lock()
            .take()
            .expect("one connection per task");
        let nm = names.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut st = conn.prepare_cached(INSERT).unwrap();
                for i in task_rows(task, n) {
                    st.insert(params![val_of(i), nm[(i % NAMES) as usize], amount_of(i)])
                        .expect("sync_insert_64[conns]");
                }
            })
            .await
            .expect("a writer thread");
        }
    });
    report("sync_insert_64[conns]", elapsed, n);
    check(&first, "sync_insert_64[conns]", n);
}
