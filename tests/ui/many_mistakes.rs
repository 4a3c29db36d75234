use worktable::prelude::*;

worktable!(
    name: Test,
    persist: true,
    columns: {
        id: u64 primary_key optional,
        price: f64 indexed,
        name: String,
        name: String,
    },
    indexes: { price_idx: price, missing_idx: missing },
    queries: { update: { Rename(id) by name } },
    config: { page_size: 1000, threads: 4 },
);

fn main() {}
