//! Float columns are filtered, sorted and compared by one total order, IEEE 754
//! `totalOrder` (`f64::total_cmp`): negative NaNs first, then `-inf`, the numbers with
//! `-0.0` before `+0.0`, `+inf`, and positive NaNs last. A NaN lies in no range between
//! two numbers, a NaN bound matches exactly the NaNs of its bit pattern, and a query value
//! that does not convert exactly to the column's float type is a `ColumnType` error.

use worktable::prelude::*;

worktable!(
    name: Measure,
    columns: {
        id: u64 primary_key,
        x: f64,
        y: f32,
        z: f64 optional,
    },
    queries: {
        delete: { ByX() by x },
    }
);

fn row(id: u64, x: f64) -> MeasureRow {
    MeasureRow {
        id,
        x,
        y: 0.0,
        z: None,
    }
}

async fn table_of(xs: &[f64]) -> MeasureWorkTable {
    let table = MeasureWorkTable::default();
    for (id, &x) in (0u64..).zip(xs) {
        table.insert(row(id, x)).await.expect("fresh row");
    }
    table
}

fn ids(rows: &[MeasureRow]) -> Vec<u64> {
    rows.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn a_nan_lies_in_no_range_between_numbers() {
    let table = table_of(&[150.0, f64::NAN, -f64::NAN, 0.5]).await;
    let rows = table
        .select_all()
        .where_by(100.0..=200.0, "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [0]);
    let rows = table
        .select_all()
        .where_by(f64::NEG_INFINITY..=f64::INFINITY, "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [0, 3], "NaNs lie beyond the infinities");
    let rows = table
        .select_all()
        .where_by(0.0.., "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [0, 1, 3], "+NaN sorts after every number");
}

#[tokio::test]
async fn a_nan_bound_matches_the_nans_of_its_bit_pattern() {
    let table = table_of(&[0.5, f64::NAN, -f64::NAN]).await;
    let rows = table
        .select_all()
        .where_by(f64::NAN..=f64::NAN, "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [1]);
    let rows = table
        .select_all()
        .where_eq(-f64::NAN, "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [2]);
}

#[tokio::test]
async fn order_by_sorts_every_value_nans_included() {
    let xs = [
        3.0,
        f64::NAN,
        1.0,
        2.0,
        -f64::NAN,
        0.0,
        -0.0,
        f64::NEG_INFINITY,
    ];
    let table = table_of(&xs).await;
    let rows = table
        .select_all()
        .order_by(Order::Asc, "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [4, 7, 6, 5, 2, 3, 0, 1]);
    let rows = table
        .select_all()
        .order_by(Order::Desc, "x")
        .limit(3)
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [1, 0, 3]);
}

#[tokio::test]
async fn minus_zero_sorts_before_plus_zero() {
    let table = table_of(&[0.0, -0.0]).await;
    let plus = table
        .select_all()
        .where_by(0.0..=0.0, "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&plus), [0]);
    let both = table
        .select_all()
        .where_by(-0.0..=0.0, "x")
        .execute()
        .expect("query");
    assert_eq!(ids(&both), [0, 1]);
}

#[tokio::test]
async fn optional_floats_sort_none_first_and_nan_last() {
    let table = MeasureWorkTable::default();
    for (id, z) in [
        (0, Some(f64::NAN)),
        (1, None),
        (2, Some(1.0)),
        (3, Some(-2.0)),
    ] {
        let row = MeasureRow { z, ..row(id, 0.0) };
        table.insert(row).await.expect("fresh row");
    }
    let rows = table
        .select_all()
        .order_by(Order::Asc, "z")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [1, 3, 2, 0]);
    let rows = table
        .select_all()
        .where_by(Some(0.0)..=Some(10.0), "z")
        .execute()
        .expect("query");
    assert_eq!(ids(&rows), [2]);
}

#[tokio::test]
async fn inexact_query_values_are_type_errors() {
    let table = MeasureWorkTable::default();
    let big = MeasureRow {
        y: 16_777_216.0,
        ..row(0, 0.0)
    };
    table.insert(big).await.expect("fresh row");
    let refused = table
        .select_all()
        .where_by(16_777_217..=16_777_217, "y")
        .execute();
    assert!(
        matches!(
            refused,
            Err(WorkTableError::ColumnType {
                column: "y",
                expected: "f32",
                ..
            })
        ),
        "2^24 + 1 is no f32: {refused:?}"
    );
    let exact = table
        .select_all()
        .where_by(16_777_216..=16_777_216, "y")
        .execute()
        .expect("2^24 is an f32");
    assert_eq!(ids(&exact), [0]);
    assert!(matches!(
        table.select_all().where_by(0.1f64.., "y").execute(),
        Err(WorkTableError::ColumnType { column: "y", .. })
    ));
    assert!(matches!(
        table
            .select_all()
            .where_by((1i64 << 53) + 1.., "x")
            .execute(),
        Err(WorkTableError::ColumnType { column: "x", .. })
    ));
    let widened = table
        .select_all()
        .where_by(0.0f32..=0.0, "x")
        .execute()
        .expect("every f32 is an f64");
    assert_eq!(ids(&widened), [0]);
}

#[tokio::test]
async fn queries_by_a_float_column_find_rows_by_the_same_order() {
    let table = table_of(&[f64::NAN, 0.0, -0.0, 1.0, -f64::NAN]).await;
    table.delete_by_x(f64::NAN).await.expect("delete");
    let left = table.select_all().execute().expect("query");
    assert_eq!(
        ids(&left),
        [1, 2, 3, 4],
        "a NaN finds the row holding that NaN"
    );
    table.delete_by_x(0.0).await.expect("delete");
    let left = table.select_all().execute().expect("query");
    assert_eq!(ids(&left), [2, 3, 4], "+0.0 is not -0.0");
}
