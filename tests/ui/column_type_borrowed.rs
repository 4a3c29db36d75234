use worktable::prelude::*;

worktable!(
    name: Test,
    columns: {
        id: u64 primary_key,
        label: &'static str,
        bytes: Vec<&'static [u8]> optional,
    },
);

fn main() {}
