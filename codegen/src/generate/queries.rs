//! The declared queries: for each, its types (`<Query>Query`, `<Query>By`) and a method
//! on the table handle that calls the runtime's read-modify-write operations.
//!
//! How a query finds its rows follows from its `by` column ([`Lookup`]): the primary key
//! or a unique index finds one row, a non-unique index or a scan any number. Multi-row
//! writes pass the runtime a `find` (the candidate keys) and a `condition` (the row still
//! holds the value), which the runtime re-checks on each row's current version.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Names, doc};
use crate::model::{Column, Index, Lookup, Query, QueryKind, Table};

/// The code of every query: items for the module, and methods for the handle's `impl`.
pub struct Generated {
    /// The query types.
    pub items: TokenStream,
    /// The handle methods.
    pub methods: TokenStream,
}

/// The types and methods of every query of `table`.
pub fn generate(table: &Table, names: &Names) -> Generated {
    let mut items = TokenStream::new();
    let mut methods = TokenStream::new();
    for query in &table.queries {
        let q = QueryCx::new(table, names, query);
        items.extend(q.by_type());
        match query.kind {
            QueryKind::Update => {
                items.extend(q.query_struct());
                methods.extend(q.update());
            }
            QueryKind::Delete => methods.extend(q.delete()),
            QueryKind::InPlace => methods.extend(q.in_place()),
        }
    }
    Generated { items, methods }
}

/// One query and what its generation reads.
struct QueryCx<'a> {
    table: &'a Table,
    names: &'a Names,
    query: &'a Query,
    /// The `by` column.
    by: &'a Column,
    /// `<Query>By`.
    by_ty: syn::Ident,
}

impl<'a> QueryCx<'a> {
    fn new(table: &'a Table, names: &'a Names, query: &'a Query) -> Self {
        QueryCx {
            table,
            names,
            query,
            by: &table.columns[query.by.index],
            by_ty: format_ident!("{}By", query.name, span = query.name.span()),
        }
    }

    /// The columns the query sets, in the order listed.
    fn set_columns(&self) -> impl Iterator<Item = &'a Column> + use<'a> {
        let table = self.table;
        self.query
            .columns
            .iter()
            .map(move |column| &table.columns[column.index])
    }

    /// The columns the query sets, each with the identifier naming it in the query.
    fn set_refs(&self) -> impl Iterator<Item = (&'a syn::Ident, &'a Column)> + use<'a> {
        let table = self.table;
        self.query
            .columns
            .iter()
            .map(move |column| (&column.ident, &table.columns[column.index]))
    }

    /// `` `a`, `b` and `c` `` for docs: the columns the query sets.
    fn set_column_list(&self) -> String {
        let names: Vec<String> = self
            .set_columns()
            .map(|column| format!("`{}`", column.plain_name))
            .collect();
        match names.as_slice() {
            [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
            _ => names.concat(),
        }
    }

    /// `pub type <Query>By = <by column's type>;`.
    fn by_type(&self) -> TokenStream {
        let Self { by_ty, by, .. } = self;
        let method = &self.query.method;
        let ty = by.value_ty();
        let doc = doc(format!(
            "The value of column `{}` by which `{method}` finds {}.",
            by.plain_name,
            match self.table.lookup(self.query.by.index) {
                Lookup::PrimaryKey | Lookup::Unique(_) => "its row",
                Lookup::NonUnique(_) | Lookup::Scan => "its rows",
            }
        ));
        quote! {
            #doc
            pub type #by_ty = #ty;
        }
    }

    /// `pub struct <Query>Query { … }`: the new values of the columns an update sets.
    fn query_struct(&self) -> TokenStream {
        let name = format_ident!("{}Query", self.query.name, span = self.query.name.span());
        // Named by the user's tokens in the query, so the fields are declared there.
        let fields = self.set_refs().map(|(field, column)| {
            let ty = column.value_ty();
            let doc = doc(format!("The new value of `{}`.", column.plain_name));
            quote!(#doc pub #field: #ty)
        });
        let doc = doc(format!(
            "The new values that `{}` writes: {}.",
            self.query.method,
            self.set_column_list()
        ));
        quote! {
            #doc
            #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq)]
            pub struct #name {
                #(#fields,)*
            }
        }
    }

    /// `update_<query>`: sets the listed columns of the rows found `by`.
    fn update(&self) -> TokenStream {
        let Names { row, .. } = self.names;
        let Self { by_ty, .. } = self;
        let method = &self.query.method;
        let query_ty = format_ident!("{}Query", self.query.name, span = self.query.name.span());
        let (query_fields, row_fields): (Vec<_>, Vec<_>) = self
            .set_refs()
            .map(|(field, column)| (field, &column.name))
            .unzip();
        // Cloned from the query: a multi-row edit runs once per row.
        let edit = quote! {
            let edit = move |row: &mut #row| {
                #(row.#row_fields = ::core::clone::Clone::clone(&query.#query_fields);)*
            };
        };
        let by_name = &self.by.plain_name;
        let sets = self.set_column_list();
        let (call, doc_text) = match self.table.lookup(self.query.by.index) {
            Lookup::PrimaryKey => (
                quote! {
                    self.0
                        .modify(::core::convert::From::from(by), ::std::boxed::Box::new(edit))
                        .await
                },
                format!(
                    "Sets {sets} of the row whose `{by_name}` is `by` (its primary key) to \
                         the values in `query`; fails with `NotFound` if there is none."
                ),
            ),
            Lookup::Unique(index) => {
                let accessors = self.unique_accessors(index);
                (
                    quote! {
                        #accessors
                        self.0.modify_unique(index, by, get, ::std::boxed::Box::new(edit)).await
                    },
                    format!(
                        "Sets {sets} of the row whose `{by_name}` is `by` (found through the \
                         unique index `{}`) to the values in `query`; fails with `NotFound` \
                         if there is none.",
                        index.plain_name
                    ),
                )
            }
            lookup @ (Lookup::NonUnique(_) | Lookup::Scan) => {
                let (find, found) = self.find_many(&lookup);
                let condition = self.condition();
                (
                    quote! {
                        #condition
                        self.0.modify_many(#find, condition, ::std::sync::Arc::new(edit)).await
                    },
                    format!(
                        "Sets {sets} of every row whose `{by_name}` is `by` ({found}) to the \
                         values in `query`, all or nothing: if one changed row would violate \
                         a unique index, no row changes and the call fails with \
                         `AlreadyExists`. Matching no row is not an error."
                    ),
                )
            }
        };
        let doc_text = format!(
            "{doc_text}\n\nEach row is changed on its current version, as one atomic \
             read-modify-write serialized with every other write to it."
        );
        let doc = doc(doc_text);
        quote! {
            #doc
            pub async fn #method(
                &self,
                query: #query_ty,
                by: #by_ty,
            ) -> ::core::result::Result<(), ::worktable::WorkTableError> {
                #edit
                #call
            }
        }
    }

    /// `delete_<query>`: deletes the rows found `by`.
    fn delete(&self) -> TokenStream {
        let Self { by_ty, .. } = self;
        let method = &self.query.method;
        let by_name = &self.by.plain_name;
        let (call, doc_text) = match self.table.lookup(self.query.by.index) {
            Lookup::PrimaryKey => (
                quote!(self.0.delete(::core::convert::From::from(by)).await),
                format!(
                    "Deletes the row whose `{by_name}` is `by` (its primary key); fails \
                         with `NotFound` if there is none."
                ),
            ),
            Lookup::Unique(index) => {
                let accessors = self.unique_accessors(index);
                (
                    quote! {
                        #accessors
                        self.0.delete_unique(index, by, get).await
                    },
                    format!(
                        "Deletes the row whose `{by_name}` is `by`, found through the unique \
                         index `{}`; fails with `NotFound` if there is none.",
                        index.plain_name
                    ),
                )
            }
            lookup @ (Lookup::NonUnique(_) | Lookup::Scan) => {
                let (find, found) = self.find_many(&lookup);
                let condition = self.condition();
                (
                    quote! {
                        #condition
                        self.0.delete_many(#find, condition).await
                    },
                    format!(
                        "Deletes every row whose `{by_name}` is `by` ({found}), one by one: \
                         each row is deleted if it still holds `by` when its turn comes. \
                         Matching no row is not an error."
                    ),
                )
            }
        };
        let doc = doc(doc_text);
        quote! {
            #doc
            pub async fn #method(
                &self,
                by: #by_ty,
            ) -> ::core::result::Result<(), ::worktable::WorkTableError> {
                #call
            }
        }
    }

    /// `update_<query>_in_place`: runs the user's closure on the listed fields of the row
    /// with the given key.
    fn in_place(&self) -> TokenStream {
        let Names { row, pk, .. } = self.names;
        let method = &self.query.method;
        let columns: Vec<&Column> = self.set_columns().collect();
        let fields = columns.iter().map(|column| &column.name);
        let types = columns.iter().map(|column| column.value_ty());
        let (arg_ty, call) = match columns.as_slice() {
            [_] => (quote!(#(&mut #types)*), quote!(f(#(&mut row.#fields)*))),
            _ => (
                quote!((#(&mut #types,)*)),
                quote!(f((#(&mut row.#fields,)*))),
            ),
        };
        let sets = self.set_column_list();
        let (what, arg) = match columns.len() {
            1 => ("field", "it"),
            _ => ("fields", "them, as a tuple in the order listed"),
        };
        let doc = doc(format!(
            "Changes the {what} {sets} of the row whose `{}` is `by`: `f` gets {arg}, \
             mutably. Fails with `NotFound` if there is no such row, and with \
             `EditPanicked` if `f` panics (the row is then unchanged).\n\n\
             `f` runs once, as one atomic read-modify-write of the row's current version, \
             serialized with every other write to the row; the caller holds no lock.",
            self.by.plain_name
        ));
        quote! {
            #doc
            pub async fn #method(
                &self,
                by: impl ::core::convert::Into<#pk>,
                // `impl`, not a named type parameter: a user type of that name could be
                // among the argument types.
                f: impl ::core::ops::FnOnce(#arg_ty) + ::core::marker::Send + 'static,
            ) -> ::core::result::Result<(), ::worktable::WorkTableError>
            {
                self.0
                    .modify(
                        ::core::convert::Into::into(by),
                        ::std::boxed::Box::new(move |row: &mut #row| #call),
                    )
                    .await
            }
        }
    }

    /// The named `fn`s a unique-index operation takes: `index` picks `index` from the
    /// indexes, `get` reads its column from a row.
    fn unique_accessors(&self, index: &Index) -> TokenStream {
        let Names {
            row, pk, indexes, ..
        } = self.names;
        let (idx, field, value) = (&index.name, &self.by.name, self.by.value_ty());
        quote! {
            fn index(indexes: &#indexes) -> &::worktable::__private::UniqueIndex<#value, #pk> {
                &indexes.#idx
            }
            fn get(row: &#row) -> &#value {
                &row.#field
            }
        }
    }

    /// `let same = …; let condition = …;`: whether two values of the `by` column are the
    /// same (`==`, or for floats their total order, as filters see them: a NaN is itself,
    /// `-0.0` is not `0.0`), and whether a row holds `by`, checked by the runtime on the
    /// row's current version.
    fn condition(&self) -> TokenStream {
        let Names { row, .. } = self.names;
        let field = &self.by.name;
        let ty = self.by.value_ty();
        // The reference count selects the probe impl by autoref; keep it exact.
        quote! {
            let same: fn(&#ty, &#ty) -> bool = {
                #[allow(unused_imports)]
                use ::worktable::__private::{Probe, SameByEq as _, SameByTotalOrder as _};
                (&&Probe::<#ty>::NEW).same_fn()
            };
            let condition: ::worktable::__private::RowCondition<#row> = {
                let by = ::core::clone::Clone::clone(&by);
                ::std::sync::Arc::new(move |row: &#row| same(&row.#field, &by))
            };
        }
    }

    /// The `find` closure of a multi-row operation (the keys of the rows that hold `by`,
    /// as of now) and, for docs, how it finds them.
    fn find_many(&self, lookup: &Lookup<'_>) -> (TokenStream, String) {
        let Names {
            schema,
            pk,
            indexes,
            ..
        } = self.names;
        let field = &self.by.name;
        match lookup {
            Lookup::NonUnique(index) => {
                let idx = &index.name;
                let value = self.by.value_ty();
                (
                    quote! {
                        |table| {
                            fn index(
                                indexes: &#indexes,
                            ) -> &::worktable::__private::NonUniqueIndex<#value, #pk> {
                                &indexes.#idx
                            }
                            ::core::result::Result::Ok(table.select_keys(index, &by))
                        }
                    },
                    format!("found through the index `{}`", index.plain_name),
                )
            }
            // Compared with `same` (see `condition`, which defines it) rather than a
            // `where_eq` filter, which needs an ordered column type; every column type has
            // `PartialEq` (the row derives it).
            _ => (
                quote! {
                    |table| {
                        ::core::result::Result::Ok(
                            table
                                .select_all()
                                .execute()?
                                .iter()
                                .filter(|row| same(&row.#field, &by))
                                .map(<#schema as ::worktable::__private::TableSchema>::primary_key)
                                .collect(),
                        )
                    }
                },
                "found by reading every row, as no index covers the column".to_owned(),
            ),
        }
    }
}
