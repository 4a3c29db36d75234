//! The methods `worktable!` generates for declared queries do what their docs say:
//! `update` queries by the primary key, a unique index and a non-unique index (all or
//! nothing across rows); `delete` queries by the primary key, a unique index, a
//! non-unique index and an unindexed column; `in_place` queries over one field and over
//! several. Each changes only the columns it names, on the row's current version, and
//! keeps the indexes in step.

use worktable::prelude::*;

mod query_table;

use query_table::*;

fn row(id: u64, test: i64, another: Option<u64>, exchange: &str) -> TestRow {
    TestRow {
        id,
        test,
        another,
        exchange: exchange.into(),
        counter: 0,
    }
}

/// A table with rows 0..4: tests 0, 10, 20, 30; `another` Some(1), Some(1), None,
/// Some(2); exchanges a, a, a, b.
async fn table() -> TestWorkTable {
    let table = TestWorkTable::default();
    for row in [
        row(0, 0, Some(1), "a"),
        row(1, 10, Some(1), "a"),
        row(2, 20, None, "a"),
        row(3, 30, Some(2), "b"),
    ] {
        table.insert(row).await.expect("insert");
    }
    table
}

/// The ids of the rows whose exchange is `exchange`, through the index.
fn ids_on(table: &TestWorkTable, exchange: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = table
        .select_by_exchange(exchange)
        .execute()
        .expect("query")
        .iter()
        .map(|row| row.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// Every row, in key order.
fn rows(table: &TestWorkTable) -> Vec<TestRow> {
    table.select_all().execute().expect("query")
}

#[tokio::test]
async fn update_by_primary_key_sets_only_the_listed_columns() {
    let table = table().await;
    table
        .update_another_by_id(AnotherByIdQuery { another: Some(5) }, 1)
        .await
        .expect("update by id");
    assert_eq!(table.select(1u64), Some(row(1, 10, Some(5), "a")));

    table
        .update_test_and_exchange_by_id(
            TestAndExchangeByIdQuery {
                test: 11,
                exchange: "c".into(),
            },
            1,
        )
        .await
        .expect("update two columns by id");
    assert_eq!(table.select(1u64), Some(row(1, 11, Some(5), "c")));
    assert_eq!(table.select_by_test(11).map(|row| row.id), Some(1));
    assert_eq!(table.select_by_test(10), None);
    assert_eq!(ids_on(&table, "c"), [1]);
    assert_eq!(ids_on(&table, "a"), [0, 2]);

    let taken = table
        .update_test_and_exchange_by_id(
            TestAndExchangeByIdQuery {
                test: 30,
                exchange: "d".into(),
            },
            1,
        )
        .await;
    assert_eq!(
        taken,
        Err(WorkTableError::AlreadyExists { index: "test_idx" })
    );
    assert_eq!(table.select(1u64), Some(row(1, 11, Some(5), "c")));

    let absent = table
        .update_another_by_id(AnotherByIdQuery { another: None }, 99)
        .await;
    assert_eq!(absent, Err(WorkTableError::NotFound));
    assert_eq!(table.count(), 4);
}

#[tokio::test]
async fn update_by_unique_index_changes_the_one_row_holding_the_value() {
    let table = table().await;
    table
        .update_another_by_test(AnotherByTestQuery { another: None }, 30)
        .await
        .expect("update by test");
    assert_eq!(table.select(3u64), Some(row(3, 30, None, "b")));
    assert_eq!(table.select(0u64), Some(row(0, 0, Some(1), "a")));

    let absent = table
        .update_another_by_test(AnotherByTestQuery { another: Some(7) }, 31)
        .await;
    assert_eq!(absent, Err(WorkTableError::NotFound));
    assert!(rows(&table).iter().all(|row| row.another != Some(7)));
}

#[tokio::test]
async fn update_by_non_unique_index_changes_every_row_holding_the_value() {
    let table = table().await;
    table
        .update_another_by_exchange(AnotherByExchangeQuery { another: Some(9) }, "a".into())
        .await
        .expect("update by exchange");
    let another: Vec<Option<u64>> = rows(&table).iter().map(|row| row.another).collect();
    assert_eq!(another, [Some(9), Some(9), Some(9), Some(2)]);

    table
        .update_another_by_exchange(AnotherByExchangeQuery { another: None }, "zz".into())
        .await
        .expect("matching no row is not an error");
    assert_eq!(
        rows(&table)
            .iter()
            .filter(|row| row.another.is_none())
            .count(),
        0
    );

    // The rows leave the value they were found by: the index follows.
    table
        .update_exchange_by_exchange(
            ExchangeByExchangeQuery {
                exchange: "b".into(),
            },
            "a".into(),
        )
        .await
        .expect("move every `a` row to `b`");
    assert_eq!(ids_on(&table, "a"), Vec::<u64>::new());
    assert_eq!(ids_on(&table, "b"), [0, 1, 2, 3]);
}

#[tokio::test]
async fn update_by_non_unique_index_is_all_or_nothing() {
    let table = table().await;
    let before = rows(&table);
    // Rows 0, 1 and 2 would all take test 100: the unique index refuses, no row changes.
    let clash = table
        .update_test_by_exchange(TestByExchangeQuery { test: 100 }, "a".into())
        .await;
    assert_eq!(
        clash,
        Err(WorkTableError::AlreadyExists { index: "test_idx" })
    );
    assert_eq!(rows(&table), before);
    assert_eq!(table.select_by_test(100), None);

    // The one `b` row may take a free value; a value held outside the set is refused.
    table
        .update_test_by_exchange(TestByExchangeQuery { test: 100 }, "b".into())
        .await
        .expect("one row takes a free value");
    assert_eq!(table.select_by_test(100).map(|row| row.id), Some(3));
    let held = table
        .update_test_by_exchange(TestByExchangeQuery { test: 0 }, "b".into())
        .await;
    assert_eq!(
        held,
        Err(WorkTableError::AlreadyExists { index: "test_idx" })
    );
    assert_eq!(table.select(3u64).map(|row| row.test), Some(100));
}

#[tokio::test]
async fn delete_by_primary_key() {
    let table = table().await;
    table.delete_by_id(2).await.expect("delete by id");
    assert_eq!(table.select(2u64), None);
    assert_eq!(ids_on(&table, "a"), [0, 1]);
    assert_eq!(table.delete_by_id(2).await, Err(WorkTableError::NotFound));
    assert_eq!(table.count(), 3);
}

#[tokio::test]
async fn delete_by_unique_index() {
    let table = table().await;
    table.delete_by_test(10).await.expect("delete by test");
    assert_eq!(table.select(1u64), None);
    assert_eq!(table.select_by_test(10), None);
    assert_eq!(
        table.delete_by_test(10).await,
        Err(WorkTableError::NotFound)
    );
    assert_eq!(table.count(), 3);
}

#[tokio::test]
async fn delete_by_non_unique_index_deletes_every_matching_row() {
    let table = table().await;
    table
        .delete_by_exchange("a".into())
        .await
        .expect("delete by exchange");
    assert_eq!(table.count(), 1);
    assert_eq!(ids_on(&table, "a"), Vec::<u64>::new());
    assert_eq!(table.select_by_test(0), None);
    assert_eq!(table.select(3u64), Some(row(3, 30, Some(2), "b")));
    table
        .delete_by_exchange("a".into())
        .await
        .expect("matching no row is not an error");
    assert_eq!(table.count(), 1);
}

#[tokio::test]
async fn delete_by_unindexed_column_reads_every_row() {
    let table = table().await;
    table
        .delete_by_another(Some(1))
        .await
        .expect("delete by another");
    let ids: Vec<u64> = rows(&table).iter().map(|row| row.id).collect();
    assert_eq!(ids, [2, 3]);
    assert_eq!(ids_on(&table, "a"), [2]);
    table
        .delete_by_another(None)
        .await
        .expect("delete the rows without `another`");
    assert_eq!(rows(&table), [row(3, 30, Some(2), "b")]);
    table
        .delete_by_another(Some(1))
        .await
        .expect("matching no row is not an error");
    assert_eq!(table.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_with_one_field_is_an_atomic_read_modify_write() {
    let table = table().await;
    let feed = table.subscribe();
    table
        .update_counter_by_id_in_place(0u64, |counter| *counter += 5)
        .await
        .expect("in place");
    let op = feed.recv().await.expect("the change is published");
    assert_eq!(op.kind, OperationKind::Update);
    assert_eq!(op.row.map(|row| row.counter), Some(5));

    // Increments from many tasks, interleaved with updates of another column of the
    // same row: none is lost, and neither kind of write undoes the other.
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            let table = table.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    table
                        .update_counter_by_id_in_place(TestPrimaryKey::from(1), move |counter| {
                            *counter += i
                        })
                        .await
                } else {
                    table
                        .update_another_by_id(AnotherByIdQuery { another: Some(i) }, 1)
                        .await
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("write");
    }
    let row = table.select(1u64).expect("row 1");
    assert_eq!(row.counter, (0..200u64).filter(|i| i % 2 == 0).sum::<u64>());
    assert!(row.another.is_some_and(|another| another % 2 == 1));
    assert_eq!((row.test, row.exchange.as_str()), (10, "a"));

    let absent = table
        .update_counter_by_id_in_place(99u64, |counter| *counter += 1)
        .await;
    assert_eq!(absent, Err(WorkTableError::NotFound));
}

#[tokio::test]
async fn in_place_with_several_fields_gets_them_as_a_tuple() {
    let table = table().await;
    for _ in 0..3 {
        table
            .update_counter_and_another_by_id_in_place(2u64, |(counter, another)| {
                *counter += 1;
                *another = Some(another.unwrap_or(0) + *counter * 10);
            })
            .await
            .expect("in place");
    }
    let row = table.select(2u64).expect("row 2");
    assert_eq!((row.counter, row.another), (3, Some(10 + 20 + 30)));
    assert_eq!((row.test, row.exchange.as_str()), (20, "a"));
}

#[tokio::test]
async fn in_place_closure_that_panics_leaves_the_row_unchanged() {
    let table = table().await;
    let before = table.select(0u64);
    let panicked = table
        .update_counter_by_id_in_place(0u64, |counter| {
            *counter += 1;
            panic!("the closure gives up");
        })
        .await;
    assert!(
        matches!(panicked, Err(WorkTableError::EditPanicked(_))),
        "{panicked:?}"
    );
    assert_eq!(table.select(0u64), before);
    table
        .update_counter_by_id_in_place(0u64, |counter| *counter += 1)
        .await
        .expect("the table still takes writes");
    assert_eq!(table.select(0u64).map(|row| row.counter), Some(1));
}
