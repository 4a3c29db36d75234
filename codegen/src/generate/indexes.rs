//! `<Name>Indexes`: a field per secondary index, and its `IndexSet` impl, which shows
//! each index, its name and its column's getter to the table's `RowStore`. The store
//! keeps the indexes itself; nothing here changes one.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Names, doc};
use crate::model::{Index, Table};

/// The indexes struct and its `IndexSet` impl.
pub fn generate(table: &Table, names: &Names) -> TokenStream {
    let Names {
        row,
        pk,
        indexes: struct_name,
        plain,
        ..
    } = names;
    let fields = table.indexes.iter().map(|index| {
        let column = &table.columns[index.column];
        let name = &index.name;
        let value = column.value_ty();
        let kind = if index.unique {
            quote!(UniqueIndex)
        } else {
            quote!(NonUniqueIndex)
        };
        // Spanned at the column's type, so a type without `Ord`/`Hash` is blamed there.
        let ty = quote_spanned!(column.ty.span()=> ::worktable::__private::#kind<#value, #pk>);
        let doc = doc(format!(
            "The {} index `{}` on column `{}`.",
            if index.unique { "unique" } else { "non-unique" },
            index.plain_name,
            column.plain_name
        ));
        // Private: the table reads its indexes through its own methods.
        quote!(#doc #name: #ty)
    });
    let struct_doc = doc(format!("The secondary indexes of the `{plain}` table."));
    let visits = table.indexes.iter().map(|index| {
        let (idx, field) = (&index.name, index_field(table, index));
        let (name, value) = (&index.plain_name, table.columns[index.column].value_ty());
        let kind = if index.unique {
            quote!(unique)
        } else {
            quote!(non_unique)
        };
        quote! {
            {
                fn get(row: &#row) -> &#value {
                    &row.#field
                }
                visitor.#kind(&self.#idx, #name, get);
            }
        }
    });
    let visitor = if table.indexes.is_empty() {
        format_ident!("_visitor")
    } else {
        format_ident!("visitor")
    };

    quote! {
        #struct_doc
        #[derive(::core::default::Default)]
        pub struct #struct_name {
            #(#fields,)*
        }

        const _: () = {
            impl ::worktable::__private::IndexSet<#row, #pk> for #struct_name {
                // Not `V`: a column type of that name could be among the getters' types.
                fn visit<__WorktableVisitor: ::worktable::__private::IndexVisitor<#row, #pk>>(
                    &self,
                    #visitor: &mut __WorktableVisitor,
                ) {
                    #(#visits)*
                }
            }
        };
    }
}

/// The row field `index` covers.
fn index_field<'t>(table: &'t Table, index: &Index) -> &'t syn::Ident {
    &table.columns[index.column].name
}
