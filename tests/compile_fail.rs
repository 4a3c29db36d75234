//! Every bad declaration is refused at compile time with a message that points at the
//! offending token and says what to write instead: one `tests/ui/<check>.rs` per check
//! of the `worktable!` macro, its message pinned in the `.stderr` beside it, plus one
//! declaration with many mistakes that are all reported at once.
//!
//! And no user code reaches the internals that soundness rests on: the cases
//! `table_internals_are_private`, `index_mutators_are_private`, `link_cannot_be_made`,
//! `link_has_no_default`, `pages_internals_are_private` and `select_unique_other_table`
//! show that nothing outside `worktable-pages` writes an index, makes a link, reads a page
//! at one or retires it, or hands one table's index to another; `row_over_aligned` that a
//! row whose archive could not sit at a page's 16-byte aligned slots is refused.

#[test]
fn bad_declarations_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
