//! `<Name>Row` and `<Name>PrimaryKey`, with the key's conversions and, for an
//! `autoincrement` key, its generator. Both derive rkyv's traits: a key is encoded like a
//! row when it is written to a file.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Names, doc};
use crate::model::{Column, Generator, Table};

/// The row struct, the key newtype and the key's trait impls.
pub fn generate(table: &Table, names: &Names) -> TokenStream {
    let Names { row, pk, plain, .. } = names;
    let fields = table.columns.iter().map(|column| {
        let name = &column.name;
        let ty = column.value_ty();
        let doc = doc(format!("The `{}` column.", column.plain_name));
        quote!(#doc #[rkyv(omit_bounds)] pub #name: #ty)
    });
    let row_rkyv = derive_rkyv(row.span(), table.columns.iter());
    let key_columns = table.primary_key.columns.iter().map(|&i| &table.columns[i]);
    let pk_rkyv = derive_rkyv(pk.span(), key_columns);
    // The row's archive is a `repr(C)` struct of its columns' archives: it is as aligned
    // as the most aligned of them. A column type that is not storable passes here: its
    // error is the bound on the row's impls.
    let fits = table.columns.iter().map(|column| {
        let ty = column.value_ty();
        quote! {
            ::worktable::__private::ArchivedAlign::<#ty>::OF
                <= ::worktable::__private::ROW_ALIGN as usize
        }
    });
    let row_doc = doc(format!("One row of the `{plain}` table."));
    let pk_doc = doc(format!("The primary key of the `{plain}` table."));
    let key_ty = key_type(table);
    let generator = match table.primary_key.generator {
        Generator::AutoIncrement => quote! {
            impl ::worktable::__private::TablePrimaryKey for #pk {
                type Generator = ::worktable::__private::AutoIncrement<#pk, #key_ty>;
            }
        },
        Generator::Custom { .. } | Generator::None => quote!(),
    };
    let over_aligned = format!(
        "the archived form of `{row}` needs an alignment above 16 bytes (a column type's \
         archive is `repr(align(N))` with N > 16), so its versions cannot be stored at the \
         16-byte aligned slots of a page"
    );
    quote! {
        #row_doc
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #row_rkyv
        pub struct #row {
            #(#fields,)*
        }

        // Rows are stored at 16-byte aligned offsets and read without validation: an
        // over-aligned archive is refused here, at compile time (`cargo check` included).
        const _: () = {
            use ::worktable::__private::UnstorableAlign as _;
            #(::core::assert!(#fits, #over_aligned);)*
        };

        #pk_doc
        #[derive(
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
            ::core::hash::Hash,
        )]
        #pk_rkyv
        pub struct #pk(#[rkyv(omit_bounds)] pub #key_ty);

        const _: () = {
            impl ::core::convert::From<#key_ty> for #pk {
                fn from(value: #key_ty) -> Self {
                    #pk(value)
                }
            }
            impl ::core::convert::From<#pk> for #key_ty {
                fn from(key: #pk) -> Self {
                    key.0
                }
            }
            #generator
        };
    }
}

/// The type inside the key newtype: the key column's type, or a tuple of the key
/// columns' types in declaration order.
pub fn key_type(table: &Table) -> TokenStream {
    match table.single_key_column() {
        Some(column) => table.columns[column].value_ty(),
        None => {
            let types = table
                .primary_key
                .columns
                .iter()
                .map(|&i| table.columns[i].value_ty());
            quote!((#(#types),*))
        }
    }
}

/// `<type>: StorableColumn` for each column, comma-separated (see [`Names::storable`]).
pub fn storable_bounds(table: &Table) -> TokenStream {
    let bounds = table.columns.iter().map(storable_bound);
    quote!(#(#bounds),*)
}

/// `<type>: StorableColumn` for `column`, spanned at its type.
fn storable_bound(column: &Column) -> TokenStream {
    let ty = column.value_ty();
    quote_spanned!(bound_span(column)=> #ty: ::worktable::__private::StorableColumn)
}

/// Where the bounds on `column`'s type sit: at the type's last token, so that, with the
/// type's own tokens, a bound that fails spans the type.
fn bound_span(column: &Column) -> Span {
    column
        .ty
        .to_token_stream()
        .into_iter()
        .last()
        .map_or_else(|| column.ty.span(), |token| token.span())
}

/// rkyv's derives for a struct holding values of `columns`, bounded by `StorableColumn` of
/// each column's type (the fields are `#[rkyv(omit_bounds)]`) rather than by rkyv's traits
/// of each field's type: see [`Names::storable`]. The impls generic over a serializer,
/// deserializer or validator also get the bounds rkyv would write, spanned at the column
/// too: `T: Serialize<__S>` implies `T: Archive`, which rustc checks where it is written,
/// and at the column the `StorableColumn` error there covers it.
///
/// The derives are spanned at `span` (the table's name), not at the macro call: rustc
/// reports a failing `where` clause at the first predicate whose span holds its own, and
/// the derives' `__S: Fallible` and the like would hold the columns' spans.
fn derive_rkyv<'t>(span: Span, columns: impl Iterator<Item = &'t Column> + Clone) -> TokenStream {
    let archive = columns.clone().map(storable_bound);
    let serialize = columns.clone().map(|column| {
        let ty = column.value_ty();
        quote_spanned! {bound_span(column)=>
            #ty: ::worktable::__private::rkyv::Serialize<__S>
        }
    });
    let deserialize = columns.clone().map(|column| {
        let ty = column.value_ty();
        quote_spanned! {bound_span(column)=>
            <#ty as ::worktable::__private::rkyv::Archive>::Archived:
                ::worktable::__private::rkyv::Deserialize<#ty, __D>
        }
    });
    let check = columns.map(|column| {
        let ty = column.value_ty();
        quote_spanned! {bound_span(column)=>
            <#ty as ::worktable::__private::rkyv::Archive>::Archived:
                ::worktable::__private::rkyv::bytecheck::CheckBytes<__C>
        }
    });
    quote_spanned! {span=>
        #[derive(
            ::worktable::__private::rkyv::Archive,
            ::worktable::__private::rkyv::Serialize,
            ::worktable::__private::rkyv::Deserialize,
        )]
        #[rkyv(
            crate = ::worktable::__private::rkyv,
            archive_bounds(#(#archive),*),
            serialize_bounds(#(#serialize),*),
            deserialize_bounds(#(#deserialize),*),
            bytecheck(bounds(#(#check),*)),
        )]
    }
}
