use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key }, config: { feed_capacity: 0 });

fn main() {}
