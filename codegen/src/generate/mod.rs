//! Generates a table's code from its checked model. One generator serves every table:
//! each file here emits one part, reading only the [`model`](crate::model).
//!
//! Generated code names only `::worktable::…` paths (and `::core`, and `::std` for the
//! `Box` and `Arc` that carry a query's closures), so a user needs only `worktable` in
//! `Cargo.toml`. Trait impls go inside `const _: () = { … };` blocks; the public types
//! stay at the call site.

mod column;
mod indexes;
mod queries;
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
    /// `<type>: StorableColumn` for each column, comma-separated, each spanned at the
    /// column's type: the `where` clause of the generated items that need the row's rkyv
    /// impls (the `TableSchema` impl, the table handle and its impls), which are bounded
    /// by it too (see [`row`]). A column type that cannot be stored fails each of these
    /// clauses with the same error at its column, which rustc reports once.
    pub storable: TokenStream,
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
            storable: row::storable_bounds(table),
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

    /// The declaration: every query kind, and every way of finding rows.
    fn with_queries() -> TokenStream {
        quote! {
            name: Test,
            columns: {
                id: u64 primary_key autoincrement,
                test: i64,
                another: u64 optional,
                exchange: String,
                counter: u64,
            },
            indexes: { test_idx: test unique, exchange_idx: exchange },
            queries: {
                update: {
                    AnotherByExchange(another) by exchange,
                    AnotherByTest(another) by test,
                    AnotherById(another) by id,
                    TestAndExchangeById(test, exchange) by id,
                },
                delete: { ByAnother() by another, ByExchange() by exchange, ByTest() by test, ById() by id },
                in_place: { CounterById(counter) by id, TwoById(counter, another) by id }
            }
        }
    }

    /// The names of the `pub fn`s (methods included) in `code`.
    fn pub_fns(code: &str) -> Vec<String> {
        let file: syn::File = syn::parse_str(code).expect("the expansion is Rust");
        let mut names = Vec::new();
        for item in file.items {
            if let syn::Item::Impl(item) = item {
                for item in item.items {
                    if let syn::ImplItem::Fn(f) = item {
                        if matches!(f.vis, syn::Visibility::Public(_)) {
                            names.push(f.sig.ident.to_string());
                        }
                    }
                }
            }
        }
        names
    }

    #[test]
    fn each_query_generates_its_types_and_method() {
        let code = expand(with_queries());
        for ty in [
            "pub struct AnotherByExchangeQuery { # [doc = \"The new value of `another`.\"] pub another : :: core :: option :: Option < u64 > , }",
            "pub struct TestAndExchangeByIdQuery { # [doc = \"The new value of `test`.\"] pub test : i64 , # [doc = \"The new value of `exchange`.\"] pub exchange : String , }",
            "pub type AnotherByExchangeBy = String ;",
            "pub type AnotherByTestBy = i64 ;",
            "pub type ByAnotherBy = :: core :: option :: Option < u64 > ;",
            "pub type CounterByIdBy = u64 ;",
        ] {
            assert!(code.contains(ty), "{ty} is missing from {code}");
        }
        assert!(
            !code.contains("ByAnotherQuery"),
            "a delete has no query struct"
        );
        assert!(
            !code.contains("CounterByIdQuery"),
            "an in-place update has no query struct"
        );
        let fns = pub_fns(&code);
        for method in [
            "update_another_by_exchange",
            "update_another_by_test",
            "update_another_by_id",
            "update_test_and_exchange_by_id",
            "delete_by_another",
            "delete_by_exchange",
            "delete_by_test",
            "delete_by_id",
            "update_counter_by_id_in_place",
            "update_two_by_id_in_place",
        ] {
            assert!(
                fns.iter().any(|f| f == method),
                "{method} is missing: {fns:?}"
            );
        }
    }

    #[test]
    fn each_lookup_calls_its_runtime_operation() {
        let code = expand(with_queries());
        let body = |method: &str| {
            let start = code
                .find(&format!("pub async fn {method} "))
                .unwrap_or_else(|| panic!("{method} is generated"));
            let end = code[start + 1..]
                .find("pub async fn ")
                .map_or(code.len(), |end| start + 1 + end);
            code[start..end].to_owned()
        };
        assert!(
            body("update_another_by_id")
                .contains("self . 0 . modify (:: core :: convert :: From :: from (by)")
        );
        assert!(
            body("update_another_by_test").contains("self . 0 . modify_unique (index , by , get")
        );
        assert!(body("update_another_by_exchange").contains("self . 0 . modify_many"));
        assert!(body("update_another_by_exchange").contains("table . select_keys (index , & by)"));
        assert!(
            body("delete_by_id")
                .contains("self . 0 . delete (:: core :: convert :: From :: from (by))")
        );
        assert!(body("delete_by_test").contains("self . 0 . delete_unique (index , by , get)"));
        assert!(body("delete_by_exchange").contains("table . select_keys (index , & by)"));
        let scan = body("delete_by_another");
        assert!(
            scan.contains("self . 0 . delete_many") && scan.contains("select_all ()"),
            "{scan}"
        );
        assert!(body("update_counter_by_id_in_place").contains("f (& mut row . counter)"));
        assert!(
            body("update_two_by_id_in_place")
                .contains("f ((& mut row . counter , & mut row . another ,))")
        );
    }

    #[test]
    fn the_handle_methods_are_the_ones_queries_must_avoid() {
        use crate::model::{HANDLE_METHODS, SELECT_BY_PREFIX};
        let table_methods: Vec<String> = pub_fns(&expand(with_queries()))
            .into_iter()
            .filter(|f| !f.starts_with("update_") && !f.starts_with("delete_"))
            .collect();
        for method in &table_methods {
            assert!(
                HANDLE_METHODS.contains(&method.as_str()) || method.starts_with(SELECT_BY_PREFIX),
                "`{method}` is missing from HANDLE_METHODS"
            );
        }
        assert_eq!(
            table_methods.len(),
            HANDLE_METHODS.len() + 2,
            "{table_methods:?}"
        );
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
            code.contains("pub struct TPrimaryKey (# [rkyv (omit_bounds)] pub (u8 , String))"),
            "{code}"
        );
        assert!(!code.contains("ColumnIndex :: Primary"));
    }
}
