//! Code that is handed the table's own indexes (a projection given to `select_unique`, a
//! hand-written `visit_column`) can read them and take links out of them, but write
//! nothing: every mutator of an index is private to `worktable-pages`.
use worktable::__private::{NonUniqueIndex, PrimaryIndex, UniqueIndex};
use worktable::prelude::*;
use worktable_pages::{Guard, Link};

worktable!(
    name: Test,
    columns: { id: u64 primary_key, test: i64, exchange: String },
    indexes: { test_idx: test unique, exchange_idx: exchange },
);

fn sneaky(indexes: &TestIndexes) -> &UniqueIndex<i64, TestPrimaryKey> {
    let guard = Guard::new();
    // A real link of a real row: reading is allowed.
    let link: Link = indexes.test_idx.find(&1, &guard, Some).expect("row 1");
    indexes.test_idx.insert(7, TestPrimaryKey(2), link);
    indexes.test_idx.relink(&1, link, link);
    indexes.test_idx.remove(&1, link);
    indexes.exchange_idx.insert("x".to_string(), TestPrimaryKey(2));
    indexes.exchange_idx.remove(&"x".to_string(), &TestPrimaryKey(2));
    &indexes.test_idx
}

fn through_visit_column(primary: &PrimaryIndex<TestPrimaryKey>, link: Link) {
    primary.insert_new(TestPrimaryKey(7), link);
    primary.replace(&TestPrimaryKey(1), link, link);
    primary.remove(&TestPrimaryKey(1), link);
}

fn get(row: &TestRow) -> &i64 {
    &row.test
}

fn main() {
    let table = TestWorkTable::default();
    let _ = table.table().select_unique(sneaky, &7, get);
    let _: fn(&PrimaryIndex<TestPrimaryKey>, Link) = through_visit_column;
    let _ = NonUniqueIndex::<String, TestPrimaryKey>::default();
}
