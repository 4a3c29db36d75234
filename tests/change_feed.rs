//! `subscribe()` sees every committed operation exactly once, in sequence order, with no
//! gaps, and nothing for refused writes; the feed ends when the table shuts down. A
//! subscriber that falls behind its `feed_capacity` (set in the declaration) is told
//! which operations it missed as soon as it has received the ones before them, without
//! waiting for another write, and before `Closed`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

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

mod small_feed {
    use worktable::prelude::*;

    worktable!(
        name: Small,
        columns: { id: u64 primary_key, v: u64 },
        config: { feed_capacity: 2 },
    );
}

use small_feed::*;

/// The next item of `feed`, or a panic if none comes: a missing report must fail the
/// test, not hang it.
async fn next(feed: &Subscription<SmallPrimaryKey, SmallRow>) -> Result<u64, SubscriptionError> {
    tokio::time::timeout(Duration::from_secs(10), feed.recv())
        .await
        .expect("the subscription answers without another write")
        .map(|op| op.seq)
}

#[tokio::test]
async fn the_declared_feed_capacity_is_the_buffer_size() {
    let table = SmallWorkTable::default();
    assert_eq!(table.table().config().feed_capacity, 2);
    assert_eq!(
        TestWorkTable::default().table().config().feed_capacity,
        TableConfig::default().feed_capacity
    );
}

#[tokio::test]
async fn a_lag_is_reported_in_place_without_another_write_and_before_closed() {
    let table = SmallWorkTable::default();
    let feed = table.subscribe();
    for id in 1..=5 {
        table
            .insert(SmallRow { id, v: id })
            .await
            .expect("fresh row");
    }
    assert_eq!(feed.len(), 2, "1 and 2 are buffered, 3..=5 missed");
    assert_eq!(next(&feed).await, Ok(1));
    assert_eq!(next(&feed).await, Ok(2));
    assert_eq!(
        next(&feed).await,
        Err(SubscriptionError::Lagged { first: 3, last: 5 }),
        "reported with no write after the gap"
    );
    assert!(feed.try_recv().is_none());
    for id in 6..=9 {
        table
            .insert(SmallRow { id, v: id })
            .await
            .expect("fresh row");
    }
    table.shutdown().await.expect("clean shutdown");
    assert_eq!(next(&feed).await, Ok(6));
    assert_eq!(next(&feed).await, Ok(7));
    assert_eq!(
        next(&feed).await,
        Err(SubscriptionError::Lagged { first: 8, last: 9 }),
        "a gap at the end is reported before the feed closes"
    );
    assert_eq!(next(&feed).await, Err(SubscriptionError::Closed));
}
