use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key, best_bid: u64, bestBid: u64 });

fn main() {}
