//! `<Name>Schema` and its `TableSchema` impl: the key of a row, the generator, and the
//! column definitions the query builder visits.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};

use super::{Names, doc};
use crate::model::{Generator, Table};

/// The schema marker type and its `TableSchema` impl.
pub fn generate(table: &Table, names: &Names) -> TokenStream {
    let Names {
        row,
        pk,
        indexes,
        column,
        schema,
        plain,
        storable,
        ..
    } = names;
    let schema_doc = doc(format!(
        "The schema of the `{plain}` table: ties its types together."
    ));
    let generator = match table.primary_key.generator {
        Generator::AutoIncrement => quote! {
            <#pk as ::worktable::__private::TablePrimaryKey>::Generator
        },
        // Spanned at `custom`, so a missing `TablePrimaryKey` impl is blamed there.
        Generator::Custom { span } => quote_spanned! {span=>
            <#pk as ::worktable::__private::TablePrimaryKey>::Generator
        },
        Generator::None => quote!(()),
    };
    let key_fields = table
        .primary_key
        .columns
        .iter()
        .map(|&i| &table.columns[i].name);
    let key_value = if table.single_key_column().is_some() {
        quote!(#(::core::clone::Clone::clone(&row.#key_fields))*)
    } else {
        quote!((#(::core::clone::Clone::clone(&row.#key_fields)),*))
    };
    let on_inserted = match table.primary_key.generator {
        Generator::AutoIncrement => quote! {
            fn on_inserted(generator: &Self::Generator, pk: &#pk) {
                generator.observe(::core::clone::Clone::clone(&pk.0));
            }
        },
        Generator::Custom { .. } | Generator::None => quote!(),
    };
    let visit_column = visit_column(table, names);
    let describe = describe(table, names);
    quote! {
        #schema_doc
        pub struct #schema;

        const _: () = {
            impl ::worktable::__private::TableSchema for #schema where #storable {
                const NAME: &'static str = #plain;
                type Row = #row;
                type Pk = #pk;
                type Generator = #generator;
                type Indexes = #indexes;
                type Column = #column;

                fn primary_key(row: &#row) -> #pk {
                    #pk(#key_value)
                }

                #on_inserted

                #visit_column

                #describe
            }
        };
    }
}

/// A column's declared type as one string without whitespace: `Vec<u8>`,
/// `::std::string::String`. `optional` is not part of it.
pub fn type_string(column: &crate::model::Column) -> String {
    column
        .ty
        .to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// `describe`: the declaration as a `SchemaDescription` (names without `r#`).
fn describe(table: &Table, names: &Names) -> TokenStream {
    let plain = &names.plain;
    let autoincrement_column = match table.primary_key.generator {
        Generator::AutoIncrement => table.single_key_column(),
        Generator::Custom { .. } | Generator::None => None,
    };
    let columns = table.columns.iter().enumerate().map(|(i, column)| {
        let name = &column.plain_name;
        let ty = type_string(column);
        let optional = column.optional;
        let autoincrement = autoincrement_column == Some(i);
        quote! {
            ColumnDescription {
                name: ::core::convert::From::from(#name),
                ty: ::core::convert::From::from(#ty),
                optional: #optional,
                autoincrement: #autoincrement,
            }
        }
    });
    let key = table
        .primary_key
        .columns
        .iter()
        .map(|&i| &table.columns[i].plain_name);
    let indexes = table.indexes.iter().map(|index| {
        let name = &index.plain_name;
        let column = &table.columns[index.column].plain_name;
        let unique = index.unique;
        quote! {
            IndexDescription {
                name: ::core::convert::From::from(#name),
                columns: ::std::vec![::core::convert::From::from(#column)],
                unique: #unique,
            }
        }
    });
    quote! {
        fn describe() -> ::worktable::__private::SchemaDescription {
            use ::worktable::__private::{ColumnDescription, IndexDescription, SchemaDescription};
            SchemaDescription {
                table: ::core::convert::From::from(#plain),
                columns: ::std::vec![#(#columns),*],
                primary_key: ::std::vec![#(::core::convert::From::from(#key)),*],
                indexes: ::std::vec![#(#indexes),*],
            }
        }
    }
}

/// `visit_column`: for each column, its `ColumnDef` (a named getter, the coercion and
/// comparison the probes pick for its type) and the index covering it.
fn visit_column(table: &Table, names: &Names) -> TokenStream {
    let Names {
        row,
        pk,
        indexes,
        column: enum_name,
        ..
    } = names;
    let single_key = table.single_key_column();
    let mut getters = Vec::new();
    let mut arms = Vec::new();
    for (i, column) in table.columns.iter().enumerate() {
        let field = &column.name;
        let plain_name = &column.plain_name;
        let variant = &column.variant;
        let ty = column.value_ty();
        let getter = format_ident!("get_{}", plain_name);
        getters.push(quote! {
            fn #getter(row: &#row) -> &#ty {
                &row.#field
            }
        });
        let index = if single_key == Some(i) {
            quote!(ColumnIndex::Primary(primary, #pk::from))
        } else if let Some(index) = table.index_on(i) {
            let index = &index.name;
            quote!(ColumnIndex::Secondary(&indexes.#index))
        } else {
            quote!(ColumnIndex::None)
        };
        // The reference counts select the probe impls by autoref; keep them exact.
        arms.push(quote! {
            #enum_name::#variant => visitor.visit(
                ColumnDef {
                    name: #plain_name,
                    get: #getter,
                    coerce: (&&Probe::<#ty>::NEW).coerce_fn(),
                    compare: (&&&Probe::<#ty>::NEW).compare_fn(),
                },
                #index,
            ),
        });
    }
    // Parameters no arm uses are named `_…`, so the user sees no warning.
    let primary = if single_key.is_some() {
        quote!(primary)
    } else {
        quote!(_primary)
    };
    let indexes_param = if table.indexes.is_empty() {
        quote!(_indexes)
    } else {
        quote!(indexes)
    };
    quote! {
        fn visit_column<'i, V: ::worktable::__private::ColumnVisitor<'i, #row, #pk>>(
            column: #enum_name,
            #primary: &'i ::worktable::__private::PrimaryIndex<#pk>,
            #indexes_param: &'i #indexes,
            visitor: V,
        ) -> V::Output {
            #[allow(unused_imports)]
            use ::worktable::__private::{
                CoerceExact as _, CoerceRelated as _, CompareByOrd as _, CompareByTotalOrder as _,
                NoCompare as _, Probe,
            };
            use ::worktable::__private::{ColumnDef, ColumnIndex};
            #(#getters)*
            match column {
                #(#arms)*
            }
        }
    }
}
