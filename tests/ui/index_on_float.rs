use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, price: f64, size: f32 optional },
    indexes: { price_idx: price, size_idx: size },
);

fn main() {}
