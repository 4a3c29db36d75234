//! An update that changes indexed columns moves their index entries; one that would
//! violate a unique index fails and changes nothing.

mod common;

use common::*;
use worktable::prelude::*;

#[tokio::test]
async fn updates_move_index_entries() {
    let table = TestWorkTable::default();
    table.insert(row(1, 10)).await.expect("row 1");
    table.insert(row(2, 20)).await.expect("row 2");

    table.update(row(1, 11)).await.expect("row 1 exists");
    assert_eq!(
        table.select_by_test(10),
        None,
        "the old unique value is free"
    );
    assert_eq!(table.select_by_test(11).map(|r| r.id), Some(1));
    assert!(
        table
            .select_by_exchange("ex10")
            .execute()
            .expect("query")
            .is_empty()
    );
    assert_eq!(
        table.select_by_exchange("ex11").execute().expect("query"),
        vec![row(1, 11)]
    );

    // The freed value can be taken by another row.
    table.update(row(2, 10)).await.expect("10 is free now");
    assert_eq!(table.select_by_test(10).map(|r| r.id), Some(2));

    // An unchanged unique value is not a conflict with the row itself.
    let mut same_value = row(2, 10);
    same_value.exchange = "shared".into();
    table.update(same_value.clone()).await.expect("own value");
    let mut also_shared = row(1, 11);
    also_shared.exchange = "shared".into();
    table
        .upsert(also_shared.clone())
        .await
        .expect("upsert replaces");
    let shared = table.select_by_exchange("shared").execute().expect("query");
    assert_eq!(
        shared,
        vec![also_shared.clone(), same_value.clone()],
        "in primary-key order"
    );

    // A conflicting update is refused and leaves both rows and every index as they were.
    let mut conflicting = row(1, 10);
    conflicting.exchange = "elsewhere".into();
    assert_eq!(
        table.update(conflicting).await,
        Err(WorkTableError::AlreadyExists { index: "test_idx" })
    );
    assert_eq!(table.select(1u64), Some(also_shared));
    assert_eq!(table.select_by_test(10), Some(same_value));
    assert!(
        table
            .select_by_exchange("elsewhere")
            .execute()
            .expect("query")
            .is_empty()
    );
    assert_eq!(
        table
            .select_by_exchange("shared")
            .execute()
            .expect("query")
            .len(),
        2
    );
}

#[tokio::test]
async fn deletes_remove_every_index_entry_and_free_the_values() {
    let table = TestWorkTable::default();
    table.insert(row(1, 10)).await.expect("row 1");
    table.delete(1u64).await.expect("row 1 exists");
    assert_eq!(table.select_by_test(10), None);
    assert!(
        table
            .select_by_exchange("ex10")
            .execute()
            .expect("query")
            .is_empty()
    );
    assert!(
        table
            .select_all()
            .where_by(10..=10, "test")
            .execute()
            .expect("query")
            .is_empty()
    );
    table
        .insert(row(2, 10))
        .await
        .expect("the value is free again");
    assert_eq!(table.select_by_test(10).map(|r| r.id), Some(2));
}
