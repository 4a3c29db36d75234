use worktable::prelude::*;

worktable!(name: Test, columns: { id: String primary_key autoincrement });

fn main() {}
