// A table declared `persist: true` is opened from a directory, never made empty in memory.
use worktable::prelude::*;

worktable!(name: Test, persist: true, columns: { id: u64 primary_key });

fn main() {
    let _ = TestWorkTable::default();
}
