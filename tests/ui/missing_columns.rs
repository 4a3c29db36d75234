use worktable::prelude::*;

worktable!(name: Test);

fn main() {}
