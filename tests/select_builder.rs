//! `select_all()` and `select_by_*` builders: ranges on any ordered column combined
//! with AND, sorting by several columns, offset and limit, columns named by string or
//! by the generated enum, and typed errors instead of panics for bad queries.

mod common;

use common::*;
use worktable::prelude::*;

async fn filled() -> TestWorkTable {
    let table = TestWorkTable::default();
    for id in 0..100u64 {
        let mut r = row(id, (id as i64 * 37) % 100);
        r.exchange = ["a", "b", "c"][id as usize % 3].to_string();
        r.another = if id % 4 == 0 { None } else { Some(id % 10) };
        table.insert(r).await.expect("fresh row");
    }
    table
}

fn ids(rows: &[TestRow]) -> Vec<u64> {
    rows.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn without_order_rows_come_in_key_order() {
    let table = filled().await;
    let all = table.select_all().execute().expect("query");
    assert_eq!(ids(&all), (0..100).collect::<Vec<_>>());
    let page = table
        .select_all()
        .offset(10)
        .limit(5)
        .execute()
        .expect("query");
    assert_eq!(ids(&page), vec![10, 11, 12, 13, 14]);
    // Through a secondary index the rows still come in key order.
    let b = table.select_by_exchange("b").execute().expect("query");
    assert_eq!(
        ids(&b),
        (0..100).filter(|id| id % 3 == 1).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn ranges_combine_and_orders_chain() {
    let table = filled().await;
    let rows = table
        .select_all()
        .where_by(10..=30, "test")
        .where_by("b".to_string().."c".to_string(), "exchange")
        .order_by(Order::Desc, "test")
        .execute()
        .expect("query");
    let mut want: Vec<TestRow> = table
        .select_all()
        .execute()
        .expect("query")
        .into_iter()
        .filter(|r| (10..=30).contains(&r.test) && r.exchange == "b")
        .collect();
    want.sort_by_key(|r| std::cmp::Reverse(r.test));
    assert!(!want.is_empty());
    assert_eq!(rows, want);

    // Two sort keys: exchange ascending, then test descending; typed columns work too.
    let rows = table
        .select_all()
        .order_by(Order::Asc, TestColumn::Exchange)
        .order_by(Order::Desc, TestColumn::Test)
        .limit(40)
        .offset(20)
        .execute()
        .expect("query");
    let mut want = table.select_all().execute().expect("query");
    want.sort_by(|a, b| a.exchange.cmp(&b.exchange).then(b.test.cmp(&a.test)));
    assert_eq!(rows, want[20..60].to_vec());
}

#[tokio::test]
async fn ranges_on_keys_optional_and_unindexed_columns() {
    let table = filled().await;
    let by_key = table
        .select_all()
        .where_by(90u64.., "id")
        .execute()
        .expect("query");
    assert_eq!(ids(&by_key), (90..100).collect::<Vec<_>>());
    let some = table
        .select_all()
        .where_by(Some(3u64)..=Some(4), "another")
        .execute()
        .expect("query");
    assert!(some.iter().all(|r| matches!(r.another, Some(3 | 4))));
    let want = (0..100u64)
        .filter(|id| id % 4 != 0 && matches!(id % 10, 3 | 4))
        .count();
    assert_eq!(some.len(), want);
    // A plain value range on an optional column means the `Some` values in it.
    let plain = table
        .select_all()
        .where_by(3..=4, "another")
        .execute()
        .expect("query");
    assert_eq!(plain, some);
    let none = table
        .select_all()
        .where_by(None::<u64>..=None, "another")
        .execute()
        .expect("query");
    assert_eq!(ids(&none), (0..100).step_by(4).collect::<Vec<_>>());
}

#[tokio::test]
async fn empty_and_reversed_ranges_return_nothing() {
    let table = filled().await;
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = table
        .select_all()
        .where_by(30..10, "test")
        .execute()
        .expect("query");
    assert!(reversed.is_empty());
    let empty = table
        .select_all()
        .where_by(5..5, "id")
        .execute()
        .expect("query");
    assert!(empty.is_empty());
    let past_end = table.select_all().offset(1_000).execute().expect("query");
    assert!(past_end.is_empty());
}

#[tokio::test]
async fn bad_queries_are_errors() {
    let table = filled().await;
    assert_eq!(
        table.select_all().where_by(0..1, "nope").execute(),
        Err(WorkTableError::UnknownColumn("nope".into()))
    );
    assert_eq!(
        table.select_all().order_by(Order::Asc, "missing").execute(),
        Err(WorkTableError::UnknownColumn("missing".into()))
    );
    assert!(matches!(
        table
            .select_all()
            .where_by("a".to_string().., "test")
            .execute(),
        Err(WorkTableError::ColumnType { column: "test", .. })
    ));
    assert!(
        matches!(
            table.select_all().where_by(-5..0, "id").execute(),
            Err(WorkTableError::ColumnType { column: "id", .. })
        ),
        "a negative bound is no u64"
    );
}

/// Rows 0..10 with `test == id`: `id` is the primary key, `test` a unique index.
async fn ten() -> TestWorkTable {
    let table = TestWorkTable::default();
    for id in 0..10u64 {
        table.insert(row(id, id as i64)).await.expect("fresh row");
    }
    table
}

#[tokio::test]
async fn several_ranges_on_one_column_keep_the_values_in_all_of_them() {
    let table = ten().await;
    // The page of an ordered walk must be read over both ranges, whichever comes first.
    let by_key = table
        .select_all()
        .where_by(1u64.., "id")
        .where_by(5u64.., "id")
        .order_by(Order::Asc, "id")
        .limit(2)
        .execute()
        .expect("query");
    assert_eq!(ids(&by_key), [5, 6]);
    let by_unique = table
        .select_all()
        .where_by(1.., "test")
        .where_by(5.., "test")
        .order_by(Order::Asc, "test")
        .limit(2)
        .execute()
        .expect("query");
    assert_eq!(ids(&by_unique), [5, 6]);
    let swapped = table
        .select_all()
        .where_by(5.., "test")
        .where_by(1.., "test")
        .order_by(Order::Asc, "test")
        .limit(2)
        .execute()
        .expect("query");
    assert_eq!(ids(&swapped), [5, 6]);
    let downwards = table
        .select_all()
        .where_by(..=8, TestColumn::Test)
        .where_by(..5, TestColumn::Test)
        .where_by(1.., TestColumn::Test)
        .order_by(Order::Desc, TestColumn::Test)
        .limit(3)
        .execute()
        .expect("query");
    assert_eq!(ids(&downwards), [4, 3, 2]);
    let unordered = table
        .select_all()
        .where_by(..7u64, "id")
        .where_by(3u64..=9, "id")
        .execute()
        .expect("query");
    assert_eq!(ids(&unordered), [3, 4, 5, 6]);
    let disjoint = table
        .select_all()
        .where_by(..3, "test")
        .where_by(6.., "test")
        .order_by(Order::Asc, "test")
        .execute()
        .expect("query");
    assert!(disjoint.is_empty());
}
