//! The generic table behind a handle does not hand out its indexes, its primary index or
//! its key generator.
use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key autoincrement, test: i64, exchange: String },
    indexes: { test_idx: test unique, exchange_idx: exchange },
);

fn main() {
    let table = TestWorkTable::default();
    let _ = table.table().indexes();
    let _ = table.table().primary_index();
    let _ = table.table().generator();
}
