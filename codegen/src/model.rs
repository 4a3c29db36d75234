//! The checked model of a declaration: what generation reads. Built only by
//! [`crate::check`], so every value here has passed the checks (names unique, references
//! resolved, flags consistent); generation never has to validate anything again.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

/// One table declaration, checked.
pub struct Table {
    /// The table name as written (`Test`); generated names start with it.
    pub name: Ident,
    /// The columns in declaration order.
    pub columns: Vec<Column>,
    /// The primary key.
    pub primary_key: PrimaryKey,
    /// The secondary indexes in declaration order.
    pub indexes: Vec<Index>,
    /// The declared queries in declaration order (kind by kind).
    pub queries: Vec<Query>,
    /// The `config` section; `None` fields keep the runtime's defaults.
    pub config: Config,
    /// `persist: true`: the table is opened from a directory and logs its writes.
    pub persist: bool,
}

/// One column.
pub struct Column {
    /// The column (and row field) name as written, possibly raw (`r#type`).
    pub name: Ident,
    /// The name without `r#`: the column's name at run time and in method names.
    pub plain_name: String,
    /// The variant of the column enum (`another_col` → `AnotherCol`).
    pub variant: Ident,
    /// The declared type (inside `Option` when [`Column::optional`]).
    pub ty: Type,
    /// Whether the column was declared `optional`: its field is `Option<ty>`.
    pub optional: bool,
}

/// The primary key: which columns, and how new keys are made.
pub struct PrimaryKey {
    /// Indexes into [`Table::columns`] of the key columns, in declaration order (at
    /// least one).
    pub columns: Vec<usize>,
    /// How keys are generated.
    pub generator: Generator,
}

/// How new primary keys are made.
#[derive(Debug, Clone, Copy)]
pub enum Generator {
    /// The table makes none: no `get_next_pk`.
    None,
    /// `autoincrement`: the runtime's counter over the key's integer type.
    AutoIncrement,
    /// `custom`: the user implements `TablePrimaryKey` for the key type.
    Custom {
        /// The `custom` flag: a missing `TablePrimaryKey` impl is reported there.
        span: Span,
    },
}

/// One secondary index.
pub struct Index {
    /// The index (and indexes-struct field) name as written.
    pub name: Ident,
    /// The name without `r#`, reported in `AlreadyExists { index }`.
    pub plain_name: String,
    /// Index into [`Table::columns`] of the indexed column.
    pub column: usize,
    /// Whether each value may be held by one row only.
    pub unique: bool,
}

/// One declared query.
pub struct Query {
    /// Which kind of query.
    pub kind: QueryKind,
    /// The query name (`AnotherByExchange`); its types are `<Name>Query`/`<Name>By`.
    pub name: Ident,
    /// The handle method the query generates (`update_another_by_exchange`), spanned at
    /// the query name; checked not to collide with any other method of the handle.
    pub method: Ident,
    /// The columns the query sets (empty for `delete`).
    pub columns: Vec<ColumnRef>,
    /// The column that finds the rows.
    pub by: ColumnRef,
}

/// The methods of every table handle (`get_next_pk` only with a key generator), besides
/// `select_by_<column>` for each index; a query's method must take none of these names.
pub const HANDLE_METHODS: [&str; 15] = [
    "name",
    "get_next_pk",
    "count",
    "select",
    "select_all",
    "insert",
    "insert_many",
    "upsert",
    "update",
    "delete",
    "subscribe",
    "shutdown",
    "storage_stats",
    "vacuum",
    "table",
];

/// The prefix of the handle's `select_by_<column>` methods.
pub const SELECT_BY_PREFIX: &str = "select_by_";

/// The kind of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// Sets columns of the rows found `by` the primary key or an index.
    Update,
    /// Deletes the rows found `by` any column.
    Delete,
    /// Sets columns of the row found `by` the single primary-key column, in place.
    InPlace,
}

/// A column named in a query: which one, and the user's token naming it (for spans).
pub struct ColumnRef {
    /// Index into [`Table::columns`].
    pub index: usize,
    /// The identifier as the user wrote it at this place: the `<Query>Query` fields are
    /// declared with it.
    pub ident: Ident,
}

/// The `config` section.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// `page_size`, checked to be a valid page size.
    pub page_size: Option<u32>,
    /// `shards`, checked to be in 1..=1024.
    pub shards: Option<u16>,
    /// `feed_capacity`, checked to be at least 1.
    pub feed_capacity: Option<u32>,
}

impl Table {
    /// The single primary-key column, or `None` for a composite key.
    pub fn single_key_column(&self) -> Option<usize> {
        match self.primary_key.columns.as_slice() {
            [column] => Some(*column),
            _ => None,
        }
    }

    /// The index on column `column`, if any (there is at most one).
    pub fn index_on(&self, column: usize) -> Option<&Index> {
        self.indexes.iter().find(|index| index.column == column)
    }

    /// How rows are found by their value in column `column`.
    pub fn lookup(&self, column: usize) -> Lookup<'_> {
        if self.single_key_column() == Some(column) {
            Lookup::PrimaryKey
        } else {
            match self.index_on(column) {
                Some(index) if index.unique => Lookup::Unique(index),
                Some(index) => Lookup::NonUnique(index),
                None => Lookup::Scan,
            }
        }
    }
}

/// How the rows holding a value in one column are found.
pub enum Lookup<'t> {
    /// The column is the single primary-key column: at most one row, by key.
    PrimaryKey,
    /// Through a unique index: at most one row.
    Unique(&'t Index),
    /// Through a non-unique index: any number of rows.
    NonUnique(&'t Index),
    /// No index covers the column (a column of a composite key included): every row is
    /// read and compared.
    Scan,
}

impl Column {
    /// The field's full type: `Option<ty>` for an optional column, else `ty`. The tokens
    /// are spanned at the user's type, so a missing trait points there.
    pub fn value_ty(&self) -> TokenStream {
        let ty = &self.ty;
        if self.optional {
            quote_spanned!(ty.span()=> ::core::option::Option<#ty>)
        } else {
            quote!(#ty)
        }
    }
}
