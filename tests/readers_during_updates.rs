//! Readers running while many tasks update, and fail to update, the same rows never see
//! a torn row, a row from a failed write, or a committed row missing.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use worktable::prelude::*;

const ROWS: u64 = 200;
/// Rows never updated, whose unique values the refused writes try to take.
const ANCHORS: u64 = 10;
const ANCHOR_BASE: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_only_whole_committed_rows() {
    let table = TestWorkTable::default();
    for id in 0..ROWS {
        table.insert(row(id, id as i64)).await.expect("seed row");
    }
    for k in 0..ANCHORS {
        table
            .insert(row(ANCHOR_BASE + k, -1 - k as i64))
            .await
            .expect("anchor row");
    }
    let stop = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (table, stop) = (table.clone(), Arc::clone(&stop));
            tokio::task::spawn_blocking(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Acquire) || reads == 0 {
                    for id in 0..ROWS {
                        let row = table.select(id).expect("committed rows never go missing");
                        assert!(is_whole(&row), "torn row {row:?}");
                        assert_ne!(row.exchange, "refused", "a refused write is visible");
                        if let Some(by_value) = table.select_by_test(row.test) {
                            assert!(is_whole(&by_value));
                        }
                        reads += 1;
                    }
                    let all = table.select_all().execute().expect("query");
                    assert_eq!(
                        all.len(),
                        (ROWS + ANCHORS) as usize,
                        "every row, every time"
                    );
                    assert!(all.iter().all(is_whole));
                }
                reads
            })
        })
        .collect();

    let writers: Vec<_> = (0..16u64)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move {
                for round in 0..300u64 {
                    let id = (task * 7 + round) % ROWS;
                    // Values are unique per (task, round), so these updates succeed.
                    let value = (1_000_000 + task * 1_000_000 + round * ROWS + id) as i64;
                    table
                        .update(row(id, value))
                        .await
                        .expect("a fresh unique value");
                    // This one takes the value of an anchor row and is refused; its
                    // `exchange` marks it so readers would spot it.
                    let mut refused = row(id, -1 - (round % ANCHORS) as i64);
                    refused.exchange = "refused".into();
                    assert_eq!(
                        table.update(refused).await,
                        Err(WorkTableError::AlreadyExists { index: "test_idx" })
                    );
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    stop.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.await.expect("reader") > 0);
    }
    assert_eq!(table.count(), (ROWS + ANCHORS) as usize);
}
