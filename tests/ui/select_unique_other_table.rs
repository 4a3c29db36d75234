//! `select_unique` picks the index from the table's own indexes: an index of another
//! table does not fit.
use worktable::__private::UniqueIndex;
use worktable::prelude::*;

worktable!(name: A, columns: { id: u64 primary_key, v: i64 }, indexes: { v_idx: v unique });
worktable!(name: B, columns: { id: u64 primary_key, v: i64 }, indexes: { v_idx: v unique });

fn b_index(indexes: &BIndexes) -> &UniqueIndex<i64, BPrimaryKey> {
    &indexes.v_idx
}

fn get(row: &ARow) -> &i64 {
    &row.v
}

fn main() {
    let a = AWorkTable::default();
    let _ = a.table().select_unique(b_index, &1, get);
}
