//! `<Name>Column`: an enum naming the columns, and its `TableColumn` impl.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Names, doc};
use crate::model::Table;

/// The column enum and its `TableColumn` impl.
pub fn generate(table: &Table, names: &Names) -> TokenStream {
    let Names {
        column: enum_name,
        plain,
        ..
    } = names;
    let variants: Vec<_> = table.columns.iter().map(|column| &column.variant).collect();
    let plain_names: Vec<_> = table
        .columns
        .iter()
        .map(|column| &column.plain_name)
        .collect();
    let variant_docs = plain_names
        .iter()
        .map(|name| doc(format!("The `{name}` column.")));
    let enum_doc = doc(format!("Names a column of the `{plain}` table in queries."));
    quote! {
        #enum_doc
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
        )]
        pub enum #enum_name {
            #(#variant_docs #variants,)*
        }

        const _: () = {
            impl ::worktable::__private::TableColumn for #enum_name {
                fn from_name(name: &str) -> ::core::option::Option<Self> {
                    match name {
                        #(#plain_names => ::core::option::Option::Some(#enum_name::#variants),)*
                        _ => ::core::option::Option::None,
                    }
                }
                fn name(self) -> &'static str {
                    match self {
                        #(#enum_name::#variants => #plain_names,)*
                    }
                }
            }
        };
    }
}
