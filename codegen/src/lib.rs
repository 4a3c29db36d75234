//! The `worktable!` macro: parse (`ast`) → checked model (`check` builds `model`,
//! reporting every mistake at its token) → code (`generate`).
//!
//! Use it through the `worktable` crate, which re-exports it; the generated code names
//! only `::worktable::…` paths.

#![forbid(unsafe_code)]

mod ast;
mod check;
mod ctxt;
mod generate;
mod model;
mod ty;

use proc_macro::TokenStream;

/// Declares a table: its row, primary key, columns, indexes and handle type.
///
/// See the `worktable` crate for the declaration syntax and the generated API. Every
/// mistake in a declaration is reported at once, each at the token that caused it.
#[proc_macro]
pub fn worktable(input: TokenStream) -> TokenStream {
    let declaration = syn::parse_macro_input!(input as ast::Declaration);
    check::table(&declaration)
        .map(|table| generate::table(&table))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
