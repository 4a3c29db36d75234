// A table declared without `persist: true` has no persistence API.
use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key });

async fn open() {
    let _ = TestWorkTable::open("data/test").await;
}

fn main() {
    let _ = open();
}
