use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key }, indexes: { id_idx: id });

fn main() {}
