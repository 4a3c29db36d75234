//! What a table declaration provides to the generic table: its row, key, indexes and
//! columns. The `worktable!` macro implements these traits; nothing else needs to.

use std::fmt::Debug;

use worktable_pages::RowFormat;
use worktable_pages::index::{IndexKey, IndexSet, PrimaryIndex};

use crate::column::ColumnVisitor;

/// The name under which the primary key reports a duplicate value in
/// [`WorkTableError::AlreadyExists`](crate::WorkTableError::AlreadyExists).
pub const PRIMARY_KEY_INDEX: &str = "primary_key";

/// A table's shape: the types the generic [`Table`](crate::Table) is built from.
pub trait TableSchema: Sized + Send + Sync + 'static {
    /// The declared table name.
    const NAME: &'static str;
    /// One row.
    type Row: RowFormat + Clone + Debug;
    /// The primary key (a newtype over the key column, or a tuple of columns).
    type Pk: IndexKey;
    /// Makes new primary keys; `()` for tables that generate none.
    type Generator: Default + Send + Sync + 'static;
    /// The secondary indexes, which the table's `RowStore` keeps (see
    /// [`IndexSet`](worktable_pages::index::IndexSet)).
    type Indexes: IndexSet<Self::Row, Self::Pk>;
    /// Names the columns.
    type Column: TableColumn;

    /// The primary key of `row`.
    fn primary_key(row: &Self::Row) -> Self::Pk;

    /// Called by the commit point after a row with `pk` was inserted, so a generator can
    /// move past keys it did not hand out.
    fn on_inserted(generator: &Self::Generator, pk: &Self::Pk) {
        let _ = (generator, pk);
    }

    /// Calls `visitor` with the definition of `column` and the ordered index on it, if any.
    fn visit_column<'i, V: ColumnVisitor<'i, Self::Row, Self::Pk>>(
        column: Self::Column,
        primary: &'i PrimaryIndex<Self::Pk>,
        indexes: &'i Self::Indexes,
        visitor: V,
    ) -> V::Output;

    /// The declaration as the persistence layer stores and compares it: the table name,
    /// the columns in declaration order (types as written, `optional`, `autoincrement`),
    /// the primary key's columns in key order and the indexes in declaration order.
    fn describe() -> worktable_persistence::SchemaDescription;
}

/// The columns of a table, by name.
pub trait TableColumn: Copy + Debug + Send + Sync + 'static {
    /// The column called `name`.
    fn from_name(name: &str) -> Option<Self>;
    /// The column's declared name.
    fn name(self) -> &'static str;
}

/// Makes primary keys for new rows.
pub trait PrimaryKeyGenerator<Pk>: Send + Sync {
    /// The next key.
    fn next(&self) -> Pk;

    /// The next key, or why there is none (for instance
    /// [`KeysExhausted`](crate::WorkTableError::KeysExhausted)). The generated
    /// `get_next_pk()` calls this. By default it is `Ok(self.next())`: a generator that
    /// can run out overrides it.
    fn try_next(&self) -> Result<Pk, crate::WorkTableError> {
        Ok(self.next())
    }
}

/// Names the generator of a primary key type. The macro implements it for
/// `autoincrement` keys; for `custom` keys the user implements it.
#[diagnostic::on_unimplemented(
    message = "the `custom` primary key `{Self}` names no generator",
    label = "a `custom` key needs `impl TablePrimaryKey for {Self}`",
    note = "write `impl TablePrimaryKey for {Self} {{ type Generator = MyGenerator; }}` and \
            `impl PrimaryKeyGenerator<{Self}> for MyGenerator {{ fn next(&self) -> {Self} {{ … }} }}`"
)]
pub trait TablePrimaryKey: Sized {
    /// The generator that makes keys of this type.
    type Generator: PrimaryKeyGenerator<Self> + Default + Send + Sync + 'static;
}
