//! The `Test` table of the README, shared by the integration tests.
#![allow(dead_code)]

use worktable::prelude::*;

worktable!(
    name: Test,
    columns: {
        id: u64 primary_key autoincrement,
        test: i64,
        another: u64 optional,
        exchange: String,
    },
    indexes: {
        test_idx: test unique,
        exchange_idx: exchange,
    }
);

/// A row of the `Test` table with every column derived from `n`, so a reader can tell
/// a whole row from a torn one: `another == Some(n * 2)` and `exchange == format!("ex{n}")`.
pub fn row(id: u64, n: i64) -> TestRow {
    TestRow {
        id,
        test: n,
        another: Some(n.unsigned_abs().wrapping_mul(2)),
        exchange: format!("ex{n}"),
    }
}

/// Whether `row` is whole: its columns agree with each other as [`row`] makes them.
pub fn is_whole(row: &TestRow) -> bool {
    row.another == Some(row.test.unsigned_abs().wrapping_mul(2))
        && row.exchange == format!("ex{}", row.test)
}
