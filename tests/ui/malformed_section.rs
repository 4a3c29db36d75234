use worktable::prelude::*;

// A section that does not parse is reported, and the other sections are still checked.
worktable!(name: Test, columns: { id: u64 primary_key, value: = 5 }, config: { shards: 0 });

fn main() {}
