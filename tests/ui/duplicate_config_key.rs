use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key }, config: { shards: 2, shards: 4 });

fn main() {}
