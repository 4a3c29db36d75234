//! A write whose future resolved `Ok` is seen by every later read, from any task:
//! the task that wrote, and any task told about it afterwards.

mod common;

use common::*;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_are_visible_to_every_task() {
    let table = TestWorkTable::default();
    // Each row goes through stages: inserted (0), updated (1), and, for even `i`, deleted
    // (2). A row that is never deleted must never be missing once it was inserted.
    let (told, mut heard) = mpsc::unbounded_channel::<(u64, u8)>();
    let deleted_some_time = |id: u64| (id % 1_000) % 2 == 0;
    let stage_of = move |id: u64, row: Option<TestRow>| match row {
        Some(row) if row.test == id as i64 => 0,
        Some(row) if row.test == id as i64 + 1_000_000 => 1,
        Some(row) => panic!("row {id} holds a value never written: {row:?}"),
        None if deleted_some_time(id) => 2,
        None => panic!("row {id} was acknowledged and is never deleted, but is missing"),
    };

    // A checker task that is told of each acknowledged write and must already see it
    // (or a later write of the same row: the writer goes on meanwhile).
    let checker = {
        let table = table.clone();
        tokio::spawn(async move {
            let mut checked = 0;
            while let Some((id, stage)) = heard.recv().await {
                assert!(
                    stage_of(id, table.select(id)) >= stage,
                    "row {id} lost stage {stage}"
                );
                checked += 1;
            }
            checked
        })
    };

    let writers: Vec<_> = (0..64u64)
        .map(|task| {
            let (table, told) = (table.clone(), told.clone());
            tokio::spawn(async move {
                for i in 0..50u64 {
                    let id = task * 1_000 + i;
                    let n = id as i64;
                    table.insert(row(id, n)).await.expect("fresh key and value");
                    assert_eq!(table.select(id).map(|r| r.test), Some(n));
                    told.send((id, 0)).expect("checker runs");

                    table
                        .update(row(id, n + 1_000_000))
                        .await
                        .expect("row exists");
                    assert_eq!(table.select_by_test(n + 1_000_000).map(|r| r.id), Some(id));
                    told.send((id, 1)).expect("checker runs");

                    if i % 2 == 0 {
                        table.delete(id).await.expect("row exists");
                        assert!(table.select(id).is_none());
                        told.send((id, 2)).expect("checker runs");
                    }
                }
            })
        })
        .collect();
    drop(told);
    for writer in writers {
        writer.await.expect("writer task");
    }
    assert_eq!(checker.await.expect("checker task"), 64 * 50 * 2 + 64 * 25);
    assert_eq!(table.count(), 64 * 25);
}
