//! `<Name>WorkTable`: the handle users hold, wrapping the generic table with typed
//! methods (the queries' among them), and its `Default` built from the `config` section.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{Names, doc, queries};
use crate::model::{Config, Generator, Index, Table};
use crate::ty;

/// The table handle, its `Default` and its methods.
pub fn generate(table: &Table, names: &Names) -> TokenStream {
    let Names {
        row,
        pk,
        schema,
        table: handle,
        plain,
        storable,
        ..
    } = names;
    let handle_doc = doc(format!(
        "The `{plain}` table: a cheap, cloneable handle usable from any number of tasks."
    ));
    let config = config(table.config);
    let get_next_pk = match table.primary_key.generator {
        Generator::AutoIncrement | Generator::Custom { .. } => quote! {
            /// A fresh primary key from the table's generator, never handed out before.
            /// An `autoincrement` key fails with `KeysExhausted` once every value of its
            /// integer type has been handed out (or passed by an explicitly inserted
            /// key); a `custom` generator fails as its `try_next` does.
            pub fn get_next_pk(&self) -> ::core::result::Result<#pk, ::worktable::WorkTableError> {
                ::worktable::__private::next_key(&self.0)
            }
        },
        Generator::None => quote!(),
    };
    let durable = table.persist.then(|| durable(&config));
    let default_impl = (!table.persist).then(|| {
        quote! {
            const _: () = {
                impl ::core::default::Default for #handle where #storable {
                    fn default() -> Self {
                        #handle(
                            ::worktable::__private::Table::with_config(#config)
                                .expect("worktable! checked the configuration at compile time"),
                        )
                    }
                }
            };
        }
    });
    let select_by = table
        .indexes
        .iter()
        .map(|index| select_by(table, names, index));
    let queries::Generated {
        items: query_items,
        methods: query_methods,
    } = queries::generate(table, names);
    quote! {
        #handle_doc
        pub struct #handle(::worktable::__private::Table<#schema>) where #storable;

        // Not derived: `derive(Clone)` would copy the bounds with spans of its own, and a
        // column type that cannot be stored would be reported a second time.
        impl ::core::clone::Clone for #handle where #storable {
            fn clone(&self) -> Self {
                #handle(::core::clone::Clone::clone(&self.0))
            }
        }

        #default_impl

        impl #handle where #storable {
            #durable
            /// The declared table name.
            pub fn name(&self) -> &'static str {
                self.0.name()
            }
            #get_next_pk
            /// The number of rows.
            pub fn count(&self) -> usize {
                self.0.count()
            }
            /// The row with primary key `pk`.
            pub fn select(&self, pk: impl ::core::convert::Into<#pk>) -> ::core::option::Option<#row> {
                self.0.select(&::core::convert::Into::into(pk))
            }
            /// A query over every row: filter with `where_by`, sort with `order_by`, then
            /// `offset`, `limit` and `execute`.
            pub fn select_all(&self) -> ::worktable::SelectQuery<'_, #schema> {
                self.0.select_all()
            }
            #(#select_by)*
            /// Inserts `row`; fails with `AlreadyExists` if its key or a unique value is taken.
            pub async fn insert(&self, row: #row) -> ::core::result::Result<#pk, ::worktable::WorkTableError> {
                self.0.insert(row).await
            }
            /// Inserts every row of `rows`, or none, paying the actor round trips once per
            /// batch; returns the keys in input order. A refused row fails the whole batch
            /// with `Batch { row, error }`, `row` being its position.
            pub async fn insert_many(
                &self,
                rows: ::std::vec::Vec<#row>,
            ) -> ::core::result::Result<::std::vec::Vec<#pk>, ::worktable::WorkTableError> {
                self.0.insert_many(rows).await
            }
            /// Inserts `row`, or replaces the row with its key.
            pub async fn upsert(&self, row: #row) -> ::core::result::Result<(), ::worktable::WorkTableError> {
                self.0.upsert(row).await
            }
            /// Replaces the row with `row`'s key; fails with `NotFound` if there is none.
            pub async fn update(&self, row: #row) -> ::core::result::Result<(), ::worktable::WorkTableError> {
                self.0.update(row).await
            }
            /// Deletes the row with key `pk`; fails with `NotFound` if there is none.
            pub async fn delete(&self, pk: impl ::core::convert::Into<#pk>) -> ::core::result::Result<(), ::worktable::WorkTableError> {
                self.0.delete(::core::convert::Into::into(pk)).await
            }
            /// A receiver of every operation committed from now on, in order.
            pub fn subscribe(&self) -> ::worktable::Subscription<#pk, #row> {
                self.0.subscribe()
            }
            /// Stops taking writes, lets accepted writes finish and ends the change feed; a
            /// durable table then makes every write durable, writes a checkpoint and releases
            /// its directory. When it returns nothing runs any more.
            pub async fn shutdown(&self) -> ::core::result::Result<(), ::worktable::WorkTableError> {
                self.0.shutdown().await
            }
            /// Page count and size of the row storage, and the bytes of its live rows.
            pub fn storage_stats(&self) -> ::worktable::StorageStats {
                self.0.storage_stats()
            }
            /// Runs a vacuum pass now: rows of sparse pages move to denser ones and empty
            /// pages give their memory back, while reads and writes go on.
            pub async fn vacuum(&self) -> ::core::result::Result<::worktable::VacuumReport, ::worktable::WorkTableError> {
                self.0.vacuum().await
            }
            /// The generic table underneath, for what the typed methods do not cover.
            pub fn table(&self) -> &::worktable::Table<#schema> {
                &self.0
            }
            #query_methods
        }

        #query_items
    }
}

/// `open`, `open_with`, `open_storage`, `flush`, `checkpoint` and `durable_seq` of a table
/// declared `persist: true`; `config` is its `TableConfig` expression.
fn durable(config: &TokenStream) -> TokenStream {
    quote! {
        /// Opens the table kept in directory `path` (created if missing), recovering
        /// what it holds, with the default settings: every write resolves once it is on
        /// disk (`Durability::Sync`).
        pub async fn open(
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> ::core::result::Result<Self, ::worktable::WorkTableError> {
            Self::open_with(path, ::core::default::Default::default()).await
        }
        /// Opens the table kept in directory `path` (created if missing) with `config`;
        /// `config.table: None` takes the declaration's `config` section. Fails with
        /// `Persist` when the directory is locked by another open table, holds another
        /// schema, or is corrupt.
        pub async fn open_with(
            path: impl ::core::convert::AsRef<::std::path::Path>,
            mut config: ::worktable::PersistConfig,
        ) -> ::core::result::Result<Self, ::worktable::WorkTableError> {
            config.table.get_or_insert_with(|| #config);
            ::worktable::__private::Table::open_with(path, config).await.map(Self)
        }
        /// Opens the table kept in `storage` (any implementation of the storage trait,
        /// such as `worktable::persist::MemoryStorage` for tests), like `open_with`.
        pub async fn open_storage(
            storage: impl ::worktable::persist::Storage + 'static,
            mut config: ::worktable::PersistConfig,
        ) -> ::core::result::Result<Self, ::worktable::WorkTableError> {
            config.table.get_or_insert_with(|| #config);
            ::worktable::__private::Table::open_storage(storage, config).await.map(Self)
        }
        /// Waits until every write committed before this call is on disk.
        pub async fn flush(&self) -> ::core::result::Result<(), ::worktable::WorkTableError> {
            self.0.flush().await
        }
        /// Writes a checkpoint now and waits for it; log segments it covers are removed.
        /// Writers go on meanwhile.
        pub async fn checkpoint(&self) -> ::core::result::Result<(), ::worktable::WorkTableError> {
            self.0.checkpoint().await
        }
        /// The sequence number of the last operation known to be on disk.
        pub fn durable_seq(&self) -> u64 {
            self.0.durable_seq()
        }
    }
}

/// The `TableConfig` expression for `config`; keys it does not set keep the defaults.
fn config(config: Config) -> TokenStream {
    let page_size = config.page_size.map(|size| {
        let size = Literal::u32_unsuffixed(size);
        quote!(page_size: #size,)
    });
    let shards = config.shards.map(|shards| {
        let shards = Literal::usize_unsuffixed(usize::from(shards));
        quote!(shards: ::core::option::Option::Some(#shards),)
    });
    let feed_capacity = config.feed_capacity.map(|capacity| {
        let capacity = Literal::u32_unsuffixed(capacity);
        quote!(feed_capacity: #capacity,)
    });
    quote! {
        ::worktable::__private::TableConfig {
            #page_size
            #shards
            #feed_capacity
            ..::worktable::__private::TableConfig::default()
        }
    }
}

/// `select_by_<column>` for `index`: the row (unique) or a query (non-unique).
fn select_by(table: &Table, names: &Names, index: &Index) -> TokenStream {
    let Names {
        row,
        pk,
        schema,
        indexes,
        column: enum_name,
        ..
    } = names;
    let column = &table.columns[index.column];
    let method = format_ident!("select_by_{}", column.plain_name);
    let field = &column.name;
    let variant = &column.variant;
    let value_ty = column.value_ty();
    // `impl Into<String>` lets callers pass `&str`; any other type is taken as it is, so
    // integer literals infer the column's type.
    let takes_into = !column.optional && ty::is_string(&column.ty);
    let (param_ty, value, convert) = if takes_into {
        let into = quote!(::core::convert::Into::into(value));
        let convert = quote!(let value: #value_ty = #into;);
        (quote!(impl ::core::convert::Into<#value_ty>), into, convert)
    } else {
        (value_ty.clone(), quote!(value), quote!())
    };
    let column_name = &column.plain_name;
    if index.unique {
        let idx = &index.name;
        let doc = doc(format!(
            "The row whose `{column_name}` is `value`, through the unique index `{}`.",
            index.plain_name
        ));
        quote! {
            #doc
            pub fn #method(&self, value: #param_ty) -> ::core::option::Option<#row> {
                fn index(indexes: &#indexes) -> &::worktable::__private::UniqueIndex<#value_ty, #pk> {
                    &indexes.#idx
                }
                fn get(row: &#row) -> &#value_ty {
                    &row.#field
                }
                #convert
                self.0.select_unique(index, &value, get)
            }
        }
    } else {
        let doc = doc(format!(
            "A query for the rows whose `{column_name}` is `value`, through the index `{}`; \
             refine it like `select_all`, then `execute` it.",
            index.plain_name
        ));
        quote! {
            #doc
            pub fn #method(&self, value: #param_ty) -> ::worktable::SelectQuery<'_, #schema> {
                self.0.select_all().where_eq::<#value_ty>(#value, #enum_name::#variant)
            }
        }
    }
}
