//! `<Name>Row` and `<Name>PrimaryKey`, with the key's conversions and, for an
//! `autoincrement` key, its generator. Both derive rkyv's traits: a key is encoded like a
//! row when it is written to a file.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Names, doc};
use crate::model::{Generator, Table};

/// The row struct, the key newtype and the key's trait impls.
pub fn generate(table: &Table, names: &Names) -> TokenStream {
    let Names { row, pk, plain, .. } = names;
    let fields = table.columns.iter().map(|column| {
        let name = &column.name;
        let ty = column.value_ty();
        let doc = doc(format!("The `{}` column.", column.plain_name));
        quote!(#doc pub #name: #ty)
    });
    // Each column type is required storable at its own tokens, in a bound that rustc
    // checks before the row's rkyv derives, so a type without the derives is blamed at the
    // column, with what to add, ahead of rkyv's own errors.
    let storable = table.columns.iter().map(|column| {
        let ty = column.value_ty();
        // The bound's own tokens sit at the type's last token, so the error spans the type.
        let end = column
            .ty
            .to_token_stream()
            .into_iter()
            .last()
            .map_or_else(|| column.ty.span(), |token| token.span());
        let bound = quote_spanned!(end=> : ::worktable::__private::StorableColumn,);
        quote!(#ty #bound)
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
        const _: () = {
            #[allow(dead_code)]
            fn storable() where #(#storable)* {}
        };

        #row_doc
        #[derive(
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::worktable::__private::rkyv::Archive,
            ::worktable::__private::rkyv::Serialize,
            ::worktable::__private::rkyv::Deserialize,
        )]
        #[rkyv(crate = ::worktable::__private::rkyv)]
        pub struct #row {
            #(#fields,)*
        }

        // Rows are stored at 16-byte aligned offsets and read without validation: an
        // over-aligned archive is refused here, at compile time (`cargo check` included).
        const _: () = ::core::assert!(
            ::core::mem::align_of::<<#row as ::worktable::__private::rkyv::Archive>::Archived>()
                <= ::worktable::__private::ROW_ALIGN as usize,
            #over_aligned
        );

        #pk_doc
        #[derive(
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
            ::core::hash::Hash,
            ::worktable::__private::rkyv::Archive,
            ::worktable::__private::rkyv::Serialize,
            ::worktable::__private::rkyv::Deserialize,
        )]
        #[rkyv(crate = ::worktable::__private::rkyv)]
        pub struct #pk(pub #key_ty);

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
