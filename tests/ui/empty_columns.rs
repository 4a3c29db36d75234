use worktable::prelude::*;

worktable!(name: Test, columns: {});

fn main() {}
