use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, price: u64 },
    indexes: { price_idx: prise },
);

fn main() {}
