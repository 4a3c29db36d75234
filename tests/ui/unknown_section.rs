use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key }, index: { v_idx: id });

fn main() {}
