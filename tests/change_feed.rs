//! `subscribe()` sees every committed operation exactly once, in sequence order, with no
//! gaps, and nothing for refused writes; the feed ends when the table shuts down.

mod common;

use std::collections::BTreeMap;

use common::*;
use worktable::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_commit_once_in_order_and_no_refusals() {
    let table = TestWorkTable::default();
    let feed = table.subscribe();
    let writers: Vec<_> = (0..16u64)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move {
                let mut committed = 0u64;
                for i in 0..200u64 {
                    let id = task * 1_000 + i;
                    table.insert(row(id, id as i64)).await.expect("fresh row");
                    committed += 1;
                    // Refused: the key exists.
                    assert!(table.insert(row(id, -(id as i64) - 1)).await.is_err());
                    if i % 3 == 0 {
                        table
                            .update(row(id, id as i64 + 100_000))
                            .await
                            .expect("exists");
                        committed += 1;
                    }
                    if i % 5 == 0 {
                        table.delete(id).await.expect("exists");
                        committed += 1;
                        // Refused: already gone.
                        assert!(table.delete(id).await.is_err());
                    }
                }
                committed
            })
        })
        .collect();
    let mut expected = 0;
    for writer in writers {
        expected += writer.await.expect("writer");
    }
    table.shutdown().await.expect("clean shutdown");

    // Replay the feed onto a model; it must end up equal to the table.
    let mut model: BTreeMap<u64, TestRow> = BTreeMap::new();
    let mut next_seq = 1;
    loop {
        match feed.recv().await {
            Ok(op) => {
                assert_eq!(op.seq, next_seq, "gapless, in order");
                next_seq += 1;
                let id = u64::from(op.pk.clone());
                match op.kind {
                    OperationKind::Insert => {
                        let row = op.row.expect("inserts carry the row");
                        assert!(model.insert(id, row).is_none(), "inserted once");
                    }
                    OperationKind::Update => {
                        let row = op.row.expect("updates carry the row");
                        assert!(model.insert(id, row).is_some(), "updated an existing row");
                    }
                    OperationKind::Delete => {
                        assert!(op.row.is_none());
                        assert!(model.remove(&id).is_some(), "deleted an existing row");
                    }
                }
            }
            Err(SubscriptionError::Closed) => break,
            Err(lagged) => panic!("the feed buffer was large enough: {lagged:?}"),
        }
    }
    assert_eq!(next_seq - 1, expected, "one operation per committed write");
    let table_rows = table.select_all().execute().expect("query");
    assert_eq!(model.into_values().collect::<Vec<_>>(), table_rows);
}

#[tokio::test]
async fn a_subscription_starts_at_the_next_commit() {
    let table = TestWorkTable::default();
    table.insert(row(1, 1)).await.expect("row 1");
    let late = table.subscribe();
    table.insert(row(2, 2)).await.expect("row 2");
    let op = late.recv().await.expect("row 2's insert");
    assert_eq!((op.seq, u64::from(op.pk)), (2, 2));
    assert!(late.try_recv().is_none());
}
