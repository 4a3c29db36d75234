//! Generates a table's code from its checked model. One generator serves every table:
//! each file here emits one part, reading only the [`model`](crate::model).
//!
//! Generated code names only `::worktable::…` paths (and `::core`), so a user needs only
//! `worktable` in `Cargo.toml`. Trait impls go inside `const _: () = { … };` blocks; the
//! public types stay at the call site.

mod column;
mod indexes;
mod row;
mod schema;
mod table;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use crate::model::Table;

/// The names of a table's generated types.
pub struct Names {
    /// `<Name>Row`.
    pub row: Ident,
    /// `<Name>PrimaryKey`.
    pub pk: Ident,
    /// `<Name>Column`.
    pub column: Ident,
    /// `<Name>Indexes`.
    pub indexes: Ident,
    /// `<Name>Schema`.
    pub schema: Ident,
    /// `<Name>WorkTable`.
    pub table: Ident,
    /// The table name without `r#`, as reported at run time.
    pub plain: String,
}

impl Names {
    /// The names for `table`, spanned at its declared name.
    pub fn new(table: &Table) -> Self {
        let name = &table.name;
        let span = name.span();
        Names {
            row: format_ident!("{}Row", name, span = span),
            pk: format_ident!("{}PrimaryKey", name, span = span),
            column: format_ident!("{}Column", name, span = span),
            indexes: format_ident!("{}Indexes", name, span = span),
            schema: format_ident!("{}Schema", name, span = span),
            table: format_ident!("{}WorkTable", name, span = span),
            plain: format_ident!("{}", name).to_string(),
        }
    }
}

/// All the code for `table`.
pub fn table(table: &Table) -> TokenStream {
    let names = Names::new(table);
    let row = row::generate(table, &names);
    let column = column::generate(table, &names);
    let indexes = indexes::generate(table, &names);
    let schema = schema::generate(table, &names);
    let wrapper = table::generate(table, &names);
    quote! {
        #row
        #column
        #indexes
        #schema
        #wrapper
    }
}

/// `#[doc = "..."]` for a generated item.
fn doc(text: impl AsRef<str>) -> TokenStream {
    let text = text.as_ref();
    quote!(#[doc = #text])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(tokens: TokenStream) -> String {
        let decl = syn::parse2(tokens).expect("the declaration parses");
        let table = crate::check::table(&decl).expect("the declaration is valid");
        let code = super::table(&table);
        syn::parse2::<syn::File>(code.clone()).expect("the expansion is Rust");
        code.to_string()
    }

    #[test]
    fn queries_generate_nothing_yet() {
        let columns = quote! {
            name: T,
            columns: { id: u64 primary_key autoincrement, a: u8, b: String },
            indexes: { b_idx: b }
        };
        let with_queries = expand(quote! {
            #columns
            queries: { update: { A(a) by b } delete: { ByA() by a } in_place: { AById(a) by id } }
        });
        assert_eq!(with_queries, expand(columns));
    }

    #[test]
    fn only_tables_with_a_generator_get_next_pk() {
        assert!(
            expand(quote!(name: T, columns: { id: u8 primary_key autoincrement }))
                .contains("get_next_pk")
        );
        assert!(
            expand(quote!(name: T, columns: { id: u8 primary_key custom })).contains("get_next_pk")
        );
        let plain = expand(quote!(name: T, columns: { id: u8 primary_key }));
        assert!(!plain.contains("get_next_pk"));
        assert!(plain.contains("type Generator = ()"));
    }

    #[test]
    fn a_composite_key_is_a_tuple_and_no_column_is_primary() {
        let code = expand(quote!(name: T, columns: { a: u8 primary_key, b: String primary_key }));
        assert!(
            code.contains("pub struct TPrimaryKey (pub (u8 , String))"),
            "{code}"
        );
        assert!(!code.contains("ColumnIndex :: Primary"));
    }
}
