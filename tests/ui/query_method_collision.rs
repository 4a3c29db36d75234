use worktable::prelude::*;

// `update` query `CounterInPlace` and `in_place` query `Counter` would both generate
// `update_counter_in_place`; `ByABC` and `ByAbc` would both generate `delete_by_abc`.
worktable!(
    name: Test,
    columns: { id: u64 primary_key, counter: u64, tag: String },
    queries: {
        update: { CounterInPlace(counter) by id },
        delete: { ByABC() by tag, ByAbc() by tag },
        in_place: { Counter(counter) by id },
    },
);

fn main() {}
