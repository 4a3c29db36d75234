//! The raw declaration as written: syntax only, no meaning checked.
//!
//! A declaration is a list of `key: value` sections, commas between them optional. Each
//! value is a single token tree (an identifier, a literal or a `{ ... }` group), so a
//! section whose value does not parse is recorded as [`SectionValue::Malformed`] and
//! parsing goes on with the next one: the checks then report every mistake at once.

use proc_macro2::TokenTree;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitBool, Token, Type, braced, parenthesized, token};

/// The section names a declaration may use, in the order the docs list them.
pub const SECTION_NAMES: [&str; 6] = ["name", "persist", "columns", "indexes", "queries", "config"];

/// A whole `worktable!( ... )` input.
pub struct Declaration {
    /// The sections in the order written.
    pub sections: Vec<Section>,
}

/// One `key: value` section.
pub struct Section {
    /// The section's name as written (`name`, `columns`, …).
    pub key: Ident,
    /// The parsed value.
    pub value: SectionValue,
}

/// The value of a section, parsed according to its key.
pub enum SectionValue {
    /// `name: Ident`.
    Name(Ident),
    /// `persist: true|false`.
    Persist(LitBool),
    /// `columns: { ... }`.
    Columns(Braced<ColumnDecl>),
    /// `indexes: { ... }`.
    Indexes(Braced<IndexDecl>),
    /// `queries: { ... }`.
    Queries(Braced<QueryKindDecl>),
    /// `config: { ... }`.
    Config(Braced<ConfigEntry>),
    /// The key is not a section name; its value (one token tree) was skipped.
    Unknown,
    /// The key is known but its value did not parse.
    Malformed(syn::Error),
}

/// A `{ item, item, ... }` list.
pub struct Braced<T> {
    /// The braces, for errors about the list as a whole.
    pub brace: token::Brace,
    /// The items, in order.
    pub items: Vec<T>,
}

/// `name: Type flag flag ...` in `columns`.
pub struct ColumnDecl {
    /// The column (and row field) name.
    pub name: Ident,
    /// The declared type, before `optional` wraps it.
    pub ty: Type,
    /// The flags after the type (`primary_key`, `optional`, …), unchecked.
    pub flags: Vec<Ident>,
}

/// `index_name: column flag ...` in `indexes`.
pub struct IndexDecl {
    /// The index (and indexes-struct field) name.
    pub name: Ident,
    /// The indexed column.
    pub column: Ident,
    /// The flags after the column (`unique`), unchecked.
    pub flags: Vec<Ident>,
}

/// `kind: { Query(...) by col, ... }` in `queries`.
pub struct QueryKindDecl {
    /// `update`, `delete` or `in_place` (unchecked).
    pub kind: Ident,
    /// The queries of this kind.
    pub queries: Braced<QueryDecl>,
}

/// `Name(col, ...) by col`.
pub struct QueryDecl {
    /// The query name.
    pub name: Ident,
    /// The parentheses around the column list, for errors about the list.
    pub paren: token::Paren,
    /// The listed columns.
    pub columns: Vec<Ident>,
    /// The column after `by`.
    pub by: Ident,
}

/// `key: value` in `config`.
pub struct ConfigEntry {
    /// The setting's name.
    pub key: Ident,
    /// Its value, any expression (the check wants an integer literal).
    pub value: Expr,
}

impl Parse for Declaration {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut sections = Vec::new();
        while !input.is_empty() {
            let key: Ident = input
                .call(Ident::parse_any)
                .map_err(|e| expected(&e, "a section, as in `name: MyTable`"))?;
            input.parse::<Token![:]>()?;
            let value: TokenTree = input
                .parse()
                .map_err(|e| expected(&e, &format!("the value of section `{key}`")))?;
            sections.push(Section {
                value: SectionValue::parse(&key, value),
                key,
            });
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(Declaration { sections })
    }
}

impl SectionValue {
    /// Parses `value` as the value of section `key`.
    fn parse(key: &Ident, value: TokenTree) -> SectionValue {
        let tokens = value.into();
        let parsed = match key.unraw().to_string().as_str() {
            "name" => Parser::parse2(Ident::parse, tokens)
                .map_err(|e| expected(&e, "the table name, e.g. `name: Orders`"))
                .map(SectionValue::Name),
            "persist" => Parser::parse2(LitBool::parse, tokens)
                .map_err(|e| expected(&e, "`true` (kept on disk) or `false` (memory only)"))
                .map(SectionValue::Persist),
            "columns" => Parser::parse2(Braced::parse, tokens).map(SectionValue::Columns),
            "indexes" => Parser::parse2(Braced::parse, tokens).map(SectionValue::Indexes),
            "queries" => {
                Parser::parse2(Braced::parse_optional_commas, tokens).map(SectionValue::Queries)
            }
            "config" => Parser::parse2(Braced::parse, tokens).map(SectionValue::Config),
            _ => Ok(SectionValue::Unknown),
        };
        parsed.unwrap_or_else(SectionValue::Malformed)
    }
}

impl<T: Parse> Braced<T> {
    /// `{ item, item, ... }`, a trailing comma allowed.
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brace = braced!(content in input);
        let items = Punctuated::<T, Token![,]>::parse_terminated(&content)?;
        Ok(Braced {
            brace,
            items: items.into_iter().collect(),
        })
    }

    /// `{ item item, item ... }`: like [`Braced::parse`], but commas are optional (for
    /// items that end in a group, like the sections of the declaration itself).
    fn parse_optional_commas(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brace = braced!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            items.push(content.parse()?);
            if content.peek(Token![,]) {
                content.parse::<Token![,]>()?;
            }
        }
        Ok(Braced { brace, items })
    }
}

/// `error` at its place, saying `what` was expected there instead.
fn expected(error: &syn::Error, what: &str) -> syn::Error {
    syn::Error::new(error.span(), format!("expected {what}"))
}

/// Identifiers up to the next `,` (or the end): the flags after a column or index.
fn parse_flags(input: ParseStream) -> syn::Result<Vec<Ident>> {
    let mut flags = Vec::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        if !input.peek(Ident::peek_any) {
            return Err(input.error("expected a flag or `,`"));
        }
        flags.push(input.call(Ident::parse_any)?);
    }
    Ok(flags)
}

impl Parse for ColumnDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let ty = input
            .parse()
            .map_err(|e| expected(&e, "the column's type, e.g. `price: u64`"))?;
        let flags = parse_flags(input)?;
        Ok(ColumnDecl { name, ty, flags })
    }
}

impl Parse for IndexDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let column = input.parse()?;
        let flags = parse_flags(input)?;
        Ok(IndexDecl {
            name,
            column,
            flags,
        })
    }
}

impl Parse for QueryKindDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kind = input.call(Ident::parse_any)?;
        input.parse::<Token![:]>()?;
        let queries = Braced::parse(input)?;
        Ok(QueryKindDecl { kind, queries })
    }
}

impl Parse for QueryDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.parse()?;
        let content;
        let paren = parenthesized!(content in input);
        let columns = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
        let by: Ident = input.call(Ident::parse_any).map_err(|error| {
            syn::Error::new(
                error.span(),
                "expected `by` and the column that finds the rows",
            )
        })?;
        if by != "by" {
            return Err(syn::Error::new(
                by.span(),
                "expected `by` and the column that finds the rows, as in `Name(col) by key`",
            ));
        }
        let by = input.parse()?;
        Ok(QueryDecl {
            name,
            paren,
            columns: columns.into_iter().collect(),
            by,
        })
    }
}

impl Parse for ConfigEntry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key = input.call(Ident::parse_any)?;
        input.parse::<Token![:]>()?;
        let value = input.parse()?;
        Ok(ConfigEntry { key, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: proc_macro2::TokenStream) -> Declaration {
        syn::parse2(tokens).expect("the declaration parses")
    }

    #[test]
    fn commas_between_sections_are_optional() {
        let decl = parse(quote::quote! {
            name: Test,
            columns: { id: u64 primary_key autoincrement, v: Vec<u8> optional, }
            queries: { update: { V(v) by id } delete: { ByV() by v }, }
        });
        assert_eq!(decl.sections.len(), 3);
        let SectionValue::Columns(columns) = &decl.sections[1].value else {
            panic!("columns parse as columns");
        };
        assert_eq!(columns.items.len(), 2);
        assert_eq!(columns.items[0].flags.len(), 2);
        let SectionValue::Queries(queries) = &decl.sections[2].value else {
            panic!("queries parse as queries");
        };
        assert_eq!(queries.items.len(), 2);
        assert!(queries.items[1].queries.items[0].columns.is_empty());
    }

    #[test]
    fn a_malformed_section_does_not_stop_the_parse() {
        let decl = parse(quote::quote! {
            name: Test, columns: { id: }, config: { page_size: 4096 }, whatever: 5
        });
        assert!(matches!(decl.sections[1].value, SectionValue::Malformed(_)));
        assert!(matches!(decl.sections[2].value, SectionValue::Config(_)));
        assert!(matches!(decl.sections[3].value, SectionValue::Unknown));
    }

    #[test]
    fn a_query_needs_by() {
        let decl = parse(quote::quote! { queries: { update: { A(x) with id } } });
        let SectionValue::Malformed(error) = &decl.sections[0].value else {
            panic!("`with` is no `by`");
        };
        assert!(error.to_string().contains("expected `by`"), "{error}");
    }
}
