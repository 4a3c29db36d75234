use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, price: u64 },
    indexes: { price_idx: price unique unique },
);

fn main() {}
