//! Every bad declaration is refused at compile time with a message that points at the
//! offending token and says what to write instead: one `tests/ui/<check>.rs` per check
//! of the `worktable!` macro, its message pinned in the `.stderr` beside it, plus one
//! declaration with many mistakes that are all reported at once.

#[test]
fn bad_declarations_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
