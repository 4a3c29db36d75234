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
