//! A write refused for a unique violation (primary key or unique index) returns
//! `AlreadyExists` naming the index and leaves no trace: not in `count`, `select`, any
//! `select_by_*`, `select_all`, the change feed, or memory.

mod common;

use common::*;
use worktable::prelude::*;

#[tokio::test]
async fn refused_inserts_leave_no_trace() {
    let table = TestWorkTable::default();
    let feed = table.subscribe();
    table.insert(row(1, 10)).await.expect("first row");
    let pages_before = table.storage_stats().pages;

    for i in 0..100_000u64 {
        // Same primary key, new unique value: refused by the primary key.
        let by_key = table.insert(row(1, 1_000_000 + i as i64)).await;
        assert_eq!(
            by_key,
            Err(WorkTableError::AlreadyExists {
                index: "primary_key"
            })
        );
        // New primary key, taken unique value: refused by `test_idx`.
        let mut clash = row(2 + i, 10);
        clash.exchange = format!("clash{i}");
        let by_index = table.insert(clash).await;
        assert_eq!(
            by_index,
            Err(WorkTableError::AlreadyExists { index: "test_idx" })
        );
    }

    assert_eq!(table.count(), 1);
    assert_eq!(table.select(1u64), Some(row(1, 10)));
    assert!(table.select(2u64).is_none());
    assert_eq!(table.select_by_test(1_000_000), None);
    assert_eq!(table.select_by_test(10), Some(row(1, 10)));
    assert!(
        table
            .select_by_exchange("clash0")
            .execute()
            .expect("query")
            .is_empty()
    );
    assert_eq!(
        table.select_all().execute().expect("query"),
        vec![row(1, 10)]
    );
    // Each shard may open its first page; 200,000 rows would need hundreds.
    let shards = usize::from(table.table().config().shard_count().expect("valid config"));
    assert!(
        table.storage_stats().pages <= pages_before + shards,
        "the space of 200,000 refused rows was all reused"
    );

    let op = feed.try_recv().expect("the one insert").expect("no lag");
    assert_eq!(
        (op.seq, op.kind, op.row),
        (1, OperationKind::Insert, Some(row(1, 10)))
    );
    assert!(feed.try_recv().is_none(), "refused writes publish nothing");
}

#[tokio::test]
async fn refused_updates_and_upserts_change_nothing() {
    let table = TestWorkTable::default();
    table.insert(row(1, 10)).await.expect("row 1");
    table.insert(row(2, 20)).await.expect("row 2");

    let mut steal = row(2, 10);
    steal.exchange = "moved".into();
    assert_eq!(
        table.update(steal.clone()).await,
        Err(WorkTableError::AlreadyExists { index: "test_idx" })
    );
    assert_eq!(
        table.upsert(steal).await,
        Err(WorkTableError::AlreadyExists { index: "test_idx" })
    );
    assert_eq!(
        table.update(row(3, 30)).await,
        Err(WorkTableError::NotFound)
    );
    assert_eq!(table.delete(3u64).await, Err(WorkTableError::NotFound));

    assert_eq!(table.select(2u64), Some(row(2, 20)));
    assert_eq!(table.select_by_test(10), Some(row(1, 10)));
    assert_eq!(table.select_by_test(20), Some(row(2, 20)));
    assert!(
        table
            .select_by_exchange("moved")
            .execute()
            .expect("query")
            .is_empty()
    );
    assert_eq!(table.count(), 2);
}

#[tokio::test]
async fn a_batch_with_a_refused_row_inserts_none_of_it() {
    let table = TestWorkTable::default();
    table.insert(row(1, 10)).await.expect("row 1");
    let feed = table.subscribe();
    let pages = table.storage_stats().pages;

    // Row 3 of the batch takes the unique value of row 1.
    let batch: Vec<TestRow> = (2..7)
        .map(|id| row(id, if id == 5 { 10 } else { id as i64 * 100 }))
        .collect();
    let refused = table.insert_many(batch).await;
    assert_eq!(
        refused,
        Err(WorkTableError::Batch {
            row: 3,
            error: Box::new(WorkTableError::AlreadyExists { index: "test_idx" })
        })
    );
    // Row 2 repeats the key of row 0 of the same batch.
    let batch = vec![row(20, 20), row(21, 21), row(20, 22)];
    let refused = table.insert_many(batch).await;
    assert!(
        matches!(refused, Err(WorkTableError::Batch { row: 2, .. })),
        "{refused:?}"
    );
    // Row 1 repeats the unique value of row 0 of the same batch.
    let refused = table.insert_many(vec![row(30, 30), row(31, 30)]).await;
    assert!(
        matches!(refused, Err(WorkTableError::Batch { row: 1, .. })),
        "{refused:?}"
    );

    assert_eq!(table.count(), 1, "none of any refused batch is there");
    for id in [2, 3, 4, 5, 6, 20, 21, 30, 31] {
        assert!(table.select(id).is_none());
    }
    assert!(table.select_by_test(200).is_none());
    assert!(feed.try_recv().is_none(), "refused batches publish nothing");
    // Refused batches again and again: their space is given back each time, so the pages
    // stop growing after the first round, however many shards write them.
    let mut after_one_round = 0;
    for round in 0..200u64 {
        let id = 1_000 + round * 10;
        let batch = vec![row(id, id as i64), row(id + 1, 10)];
        assert!(table.insert_many(batch).await.is_err(), "value 10 is taken");
        if round == 0 {
            after_one_round = table.storage_stats().pages;
        }
    }
    assert_eq!(
        table.storage_stats().pages,
        after_one_round,
        "the space of refused batches was given back"
    );
    assert!(pages <= after_one_round);

    let keys = table
        .insert_many((40..1_040).map(|id| row(id, id as i64)).collect())
        .await;
    let keys: Vec<u64> = keys
        .expect("a clean batch")
        .into_iter()
        .map(u64::from)
        .collect();
    assert_eq!(keys, (40..1_040).collect::<Vec<_>>(), "keys in input order");
    assert_eq!(table.count(), 1_001);
    assert_eq!(table.select_by_test(500).map(|r| r.id), Some(500));
    let first = feed
        .try_recv()
        .expect("the batch's inserts")
        .expect("no lag");
    assert_eq!(
        (first.seq, first.kind),
        (2, OperationKind::Insert),
        "after row 1's insert"
    );
}
