//! Vacuum: pages emptied by deletes and size-changing updates give their memory back,
//! rows moved out of sparse pages answer exactly as before through every index, readers
//! and writers running meanwhile never miss or tear a row, and a move is no operation
//! (the change feed sees none).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use worktable::prelude::*;

worktable!(
    name: Item,
    columns: {
        id: u64 primary_key autoincrement,
        code: u64,
        body: String,
    },
    indexes: {
        code_idx: code unique,
        body_idx: body,
    },
    config: { page_size: 4096, shards: 2 },
);

fn item(id: u64, len: usize) -> ItemRow {
    ItemRow {
        id,
        code: id * 2,
        body: "b".repeat(len),
    }
}

/// Whether `row` is one a writer of these tests could have written for its key.
fn is_whole(row: &ItemRow) -> bool {
    row.code == row.id * 2 && row.body.bytes().all(|b| b == b'b')
}

/// Runs passes until one leaves no page pending and `done` holds of the table, and returns
/// their reports. A pass waits only so long for readers to leave, and the tests beside
/// this one pin the epoch for a while (an `insert_many` holds its guard for its whole
/// batch), so one pass may stop with pages still being emptied; the next goes on. A vacuum
/// that never gets there fails at the deadline instead of hanging.
async fn vacuum_until(
    table: &worktable::Table<ItemSchema>,
    done: impl Fn(&worktable::Table<ItemSchema>) -> bool,
) -> Vec<VacuumReport> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut reports = Vec::new();
    loop {
        let report = table.vacuum().await.expect("a pass");
        let settled = report.pages_pending == 0;
        reports.push(report);
        if settled && done(table) {
            return reports;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the passes never finished: {reports:?}"
        );
    }
}

/// The sum of one field over the reports of [`vacuum_until`].
fn total(reports: &[VacuumReport], field: impl Fn(&VacuumReport) -> u64) -> u64 {
    reports.iter().map(field).sum()
}

async fn filled(rows: u64) -> ItemWorkTable {
    let table = ItemWorkTable::default();
    let all: Vec<ItemRow> = (0..rows).map(|id| item(id, (id % 60) as usize)).collect();
    table.insert_many(all).await.expect("fresh keys and codes");
    table
}

#[tokio::test]
async fn deleting_every_row_and_vacuuming_gives_every_page_back() {
    // The declaration's settings, and no automatic pass, so that the one asked for
    // finds every page still there.
    let config = TableConfig {
        page_size: 4096,
        shards: Some(2),
        vacuum: VacuumConfig {
            auto: false,
            ..VacuumConfig::default()
        },
        ..TableConfig::default()
    };
    let table = worktable::Table::<ItemSchema>::with_config(config).expect("valid");
    let all: Vec<ItemRow> = (0..20_000).map(|id| item(id, (id % 60) as usize)).collect();
    table.insert_many(all).await.expect("fresh keys and codes");
    let pages = table.storage_stats().pages;
    assert!(pages > 100, "{pages} pages");
    for id in 0..20_000u64 {
        table.delete(id.into()).await.expect("present");
    }
    assert_eq!(
        table.storage_stats().pages,
        pages,
        "with no write and no pass, nothing takes the deleted rows' slots back yet"
    );
    let reports = vacuum_until(&table, |table| table.storage_stats().pages == 0).await;
    let freed = total(&reports, |report| report.pages_freed);
    assert_eq!(freed as usize, pages, "{reports:?}");
    assert_eq!(
        total(&reports, |report| report.rows_moved),
        0,
        "{reports:?}"
    );
    let last = reports.last().expect("at least one pass");
    assert_eq!((last.pages, last.live_bytes, last.pages_pending), (0, 0, 0));
    let stats = table.storage_stats();
    assert_eq!((stats.pages, stats.live_bytes), (0, 0));
    // The table works as before: the page ids come back.
    for id in 0..1_000 {
        table.insert(item(id, 10)).await.expect("free again");
    }
    assert_eq!(table.count(), 1_000);
    for id in 0..1_000u64 {
        assert_eq!(table.select(&id.into()), Some(item(id, 10)));
    }
}

#[tokio::test]
async fn a_sparse_table_is_compacted_and_answers_the_same_through_every_index() {
    let table = filled(30_000).await;
    let mut model: BTreeMap<u64, ItemRow> = (0..30_000)
        .map(|id| (id, item(id, (id % 60) as usize)))
        .collect();
    for id in (0..30_000).filter(|id| id % 3 != 0) {
        table.delete(id).await.expect("present");
        model.remove(&id);
    }
    let before = table.storage_stats();
    // Dense again: half the pages or fewer, and at least 60% of their bytes live.
    let compacted = |t: &worktable::Table<ItemSchema>| {
        t.storage_stats().pages * 2 < before.pages && t.storage_stats().live_share() >= 0.6
    };
    let reports = vacuum_until(table.table(), compacted).await;
    assert!(
        total(&reports, |r| r.rows_moved) > 0 && total(&reports, |r| r.pages_freed) > 0,
        "{reports:?}"
    );
    assert_eq!(table.count(), model.len());
    for (id, row) in &model {
        assert_eq!(table.select(*id).as_ref(), Some(row));
        assert_eq!(table.select_by_code(row.code).as_ref(), Some(row));
    }
    for len in [0, 1, 30, 59] {
        let want: Vec<&ItemRow> = model.values().filter(|r| r.body.len() == len).collect();
        let got = table
            .select_by_body("b".repeat(len))
            .execute()
            .expect("by key");
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "body of {len}");
    }
    let all = table.select_all().execute().expect("no filter to refuse");
    assert_eq!(all, model.values().cloned().collect::<Vec<_>>());
    // A second pass finds nothing sparse left to move.
    let again = table.vacuum().await.expect("a pass");
    assert_eq!(again.pages_freed, 0, "{again:?}");
}

/// Readers (on blocking threads and in tasks) look up rows that nobody writes while
/// writers keep replacing other rows with bodies of changing sizes and deleting and
/// re-inserting others, and passes run back to back: no lookup misses a row or sees a
/// torn one, by key or by unique value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_and_writers_running_during_passes_never_miss_or_tear_a_row() {
    const ROWS: u64 = 6_000;
    let table = filled(ROWS).await;
    // Every third row is read and never written, a third is deleted now (leaving sparse
    // pages to empty while the writes go on) and a third is written.
    let stable = |id: u64| id % 3 == 0;
    let written = |id: u64| id % 3 == 2;
    for id in (0..ROWS).filter(|id| id % 3 == 1) {
        table.delete(id).await.expect("present");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (table, stop) = (table.clone(), Arc::clone(&stop));
        readers.push(tokio::task::spawn_blocking(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Acquire) || rounds == 0 {
                for id in (0..ROWS).filter(|id| stable(*id)) {
                    let row = table.select(id).expect("a stable row never goes missing");
                    assert!(is_whole(&row), "torn row {row:?}");
                    let by_code = table.select_by_code(id * 2).expect("nor by its code");
                    assert_eq!(by_code.id, id);
                }
                rounds += 1;
            }
            rounds
        }));
    }
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let (table, stop) = (table.clone(), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let mut round = 0u64;
            while !stop.load(Ordering::Acquire) || round == 0 {
                for id in (0..ROWS).filter(|id| written(*id) && id % 4 == w) {
                    let len = ((id + round * 7) % 120) as usize;
                    if (id + round) % 5 == 0 {
                        table.delete(id).await.expect("the writer's own row");
                        table.insert(item(id, len)).await.expect("its key is free");
                    } else {
                        table
                            .update(item(id, len))
                            .await
                            .expect("the writer's own row");
                    }
                }
                round += 1;
            }
        }));
    }
    // Twelve passes at least, and more while none has given a page back yet: the
    // epoch can stand still for a while when other tests pin it (see `vacuum_until`).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (mut passes, mut freed) = (0, 0);
    while passes < 12 || (freed == 0 && std::time::Instant::now() < deadline) {
        freed += table.vacuum().await.expect("a pass").pages_freed;
        passes += 1;
    }
    stop.store(true, Ordering::Release);
    for writer in writers {
        writer.await.expect("writers never fail");
    }
    for reader in readers {
        assert!(reader.await.expect("readers saw every row whole") > 0);
    }
    assert!(freed > 0, "passes gave pages back while writes went on");
    assert_eq!(table.count(), (ROWS - ROWS / 3) as usize);
    for id in (0..ROWS).filter(|id| stable(*id) || written(*id)) {
        let row = table.select(id).expect("every row is there");
        assert!(is_whole(&row), "{row:?}");
        assert_eq!(table.select_by_code(id * 2).map(|r| r.id), Some(id));
    }
}

#[tokio::test]
async fn a_pass_is_no_operation_for_the_change_feed() {
    let table = filled(5_000).await;
    for id in (0..5_000).filter(|id| id % 2 == 0) {
        table.delete(id).await.expect("present");
    }
    let feed = table.subscribe();
    let reports = vacuum_until(table.table(), |t| t.storage_stats().live_share() >= 0.6).await;
    assert!(total(&reports, |r| r.rows_moved) > 0, "{reports:?}");
    table.insert(item(1_000_000, 5)).await.expect("fresh");
    let next = feed.recv().await.expect("the insert");
    assert_eq!(next.kind, OperationKind::Insert);
    assert_eq!(next.pk, 1_000_000.into());
    assert!(feed.try_recv().is_none(), "nothing else was published");
}

#[tokio::test]
async fn a_pass_after_shutdown_fails_and_one_racing_it_ends() {
    let table = filled(3_000).await;
    for id in 0..2_000 {
        table.delete(id).await.expect("present");
    }
    let racing = {
        let table = table.clone();
        tokio::spawn(async move { table.vacuum().await })
    };
    table.shutdown().await.expect("clean");
    match racing.await.expect("no panic") {
        Ok(_) | Err(WorkTableError::ShutDown) => {}
        Err(other) => panic!("a pass racing shutdown ends with its report or ShutDown: {other}"),
    }
    assert_eq!(table.vacuum().await, Err(WorkTableError::ShutDown));
    assert_eq!(
        table.select(2_500).map(|r| r.id),
        Some(2_500),
        "reads go on"
    );
}

/// With automatic passes on and low limits, deleting rows is enough: the vacuum thread
/// notices the sparse pages and gives them back without being asked.
#[tokio::test]
async fn an_automatic_pass_gives_pages_back_unasked() {
    let config = TableConfig {
        page_size: 4096,
        shards: Some(2),
        vacuum: VacuumConfig {
            min_page_bytes: 0,
            check_every: Duration::from_millis(5),
            ..VacuumConfig::default()
        },
        ..TableConfig::default()
    };
    let table = worktable::Table::<ItemSchema>::with_config(config).expect("valid");
    for id in 0..10_000 {
        table.insert(item(id, 40)).await.expect("fresh");
    }
    let pages = table.storage_stats().pages;
    for id in 0..10_000 {
        table.delete(id.into()).await.expect("present");
    }
    // No timing assertion: the bound only turns a vacuum that never comes into a failure.
    let waited = std::time::Instant::now();
    while table.storage_stats().pages * 10 > pages {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "no automatic pass came: {:?}",
            table.storage_stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(table.storage_stats().pages * 10 <= pages);
}
