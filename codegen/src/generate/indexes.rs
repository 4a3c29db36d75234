//! `<Name>Indexes`: a field per secondary index, and its `SecondaryIndexes` impl.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Names, doc};
use crate::model::{Index, Table};

/// The indexes struct and its `SecondaryIndexes` impl.
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
        quote!(#doc pub #name: #ty)
    });
    let struct_doc = doc(format!("The secondary indexes of the `{plain}` table."));

    let unique = table.indexes.iter().filter(|index| index.unique);
    let conflicts = unique.clone().map(|index| {
        let (name, field) = (&index.plain_name, index_field(table, index));
        let idx = &index.name;
        quote! {
            if self.#idx.held_by_other(&row.#field, current, |link| rows(link).map(|found| found.#field)) {
                return ::core::option::Option::Some(#name);
            }
        }
    });
    let inserts = table.indexes.iter().map(|index| {
        let (idx, field) = (&index.name, index_field(table, index));
        let link = index.unique.then(|| quote!(, link));
        quote!(self.#idx.insert(::core::clone::Clone::clone(&row.#field), ::core::clone::Clone::clone(pk) #link);)
    });
    let removes = table.indexes.iter().map(|index| {
        let (idx, field) = (&index.name, index_field(table, index));
        if index.unique {
            quote!(self.#idx.remove(&row.#field, link);)
        } else {
            quote!(self.#idx.remove(&row.#field, pk);)
        }
    });
    let leaves = table.indexes.iter().map(|index| {
        let (idx, field) = (&index.name, index_field(table, index));
        let key = if index.unique {
            quote!(old_link)
        } else {
            quote!(pk)
        };
        quote! {
            if old.#field != new.#field {
                self.#idx.remove(&old.#field, #key);
            }
        }
    });
    let enters = table.indexes.iter().map(|index| {
        let (idx, field) = (&index.name, index_field(table, index));
        if index.unique {
            // A unique index leads to the current version, so it follows every update.
            quote! {
                if old.#field != new.#field {
                    self.#idx.insert(::core::clone::Clone::clone(&new.#field), ::core::clone::Clone::clone(pk), new_link);
                } else {
                    self.#idx.relink(&new.#field, old_link, new_link);
                }
            }
        } else {
            quote! {
                if old.#field != new.#field {
                    self.#idx.insert(::core::clone::Clone::clone(&new.#field), ::core::clone::Clone::clone(pk));
                }
            }
        }
    });
    let group_conflicts = table
        .indexes
        .iter()
        .filter(|index| index.unique)
        .map(|index| {
            let (name, field) = (&index.plain_name, index_field(table, index));
            let (idx, value) = (&index.name, table.columns[index.column].value_ty());
            quote! {
                {
                    fn get(row: &#row) -> &#value {
                        &row.#field
                    }
                    if let ::core::option::Option::Some(position) =
                        ::worktable::__private::group_unique_conflict(&self.#idx, changes, get, rows)
                    {
                        return ::core::option::Option::Some((position, #name));
                    }
                }
            }
        });
    // Parameters a body does not use are named `_…`, so the user sees no warning.
    let any = !table.indexes.is_empty();
    let any_unique = unique.count() > 0;
    let (row_any, pk_any) = params(any, "row", "pk");
    let (row_unique, current) = params(any_unique, "row", "current");
    let (changes, rows) = params(any_unique, "changes", "rows");
    let link = param(any_unique, "link");
    let pk_non_unique = param(table.indexes.iter().any(|index| !index.unique), "pk");
    let (old_link, new_link) = params(any_unique, "old_link", "new_link");
    let (old, new) = params(any, "old", "new");
    let link_ty = quote!(::worktable::__private::Link);
    let rows_ty = quote!(::worktable::__private::RowAt<'_, #row>);

    quote! {
        #struct_doc
        #[derive(::core::default::Default)]
        pub struct #struct_name {
            #(#fields,)*
        }

        const _: () = {
            impl ::worktable::__private::SecondaryIndexes<#row, #pk> for #struct_name {
                fn conflict(
                    &self,
                    #row_unique: &#row,
                    #current: ::core::option::Option<#link_ty>,
                    #rows: &#rows_ty,
                ) -> ::core::option::Option<&'static str> {
                    #(#conflicts)*
                    ::core::option::Option::None
                }
                fn insert(&self, #row_any: &#row, #pk_any: &#pk, #link: #link_ty) {
                    #(#inserts)*
                }
                fn remove(&self, #row_any: &#row, #pk_non_unique: &#pk, #link: #link_ty) {
                    #(#removes)*
                }
                fn leave(&self, #old: &#row, #new: &#row, #pk_non_unique: &#pk, #old_link: #link_ty) {
                    #(#leaves)*
                }
                fn enter(
                    &self,
                    #old: &#row,
                    #new: &#row,
                    #pk_any: &#pk,
                    #old_link: #link_ty,
                    #new_link: #link_ty,
                ) {
                    #(#enters)*
                }
                fn group_conflict(
                    &self,
                    #changes: &[::worktable::__private::RowChange<'_, #row, #pk>],
                    #rows: &#rows_ty,
                ) -> ::core::option::Option<(usize, &'static str)> {
                    #(#group_conflicts)*
                    ::core::option::Option::None
                }
            }
        };
    }
}

/// The row field `index` covers.
fn index_field<'t>(table: &'t Table, index: &Index) -> &'t syn::Ident {
    &table.columns[index.column].name
}

/// Parameter names `a`, `b`, prefixed with `_` when `used` is false.
fn params(used: bool, a: &str, b: &str) -> (syn::Ident, syn::Ident) {
    (param(used, a), param(used, b))
}

/// The parameter name `name`, prefixed with `_` when `used` is false.
fn param(used: bool, name: &str) -> syn::Ident {
    if used {
        format_ident!("{name}")
    } else {
        format_ident!("_{name}")
    }
}
