use worktable::prelude::*;

const PAGE: u32 = 4096;
worktable!(name: Test, columns: { id: u64 primary_key }, config: { page_size: PAGE });

fn main() {}
