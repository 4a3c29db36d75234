//! What a table declaration provides to the generic table: its row, key, indexes and
//! columns. The `worktable!` macro implements these traits; nothing else needs to.

use std::fmt::Debug;

use worktable_pages::index::{IndexKey, PrimaryIndex, UniqueIndex};
use worktable_pages::{Link, RowFormat};

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
    /// The secondary indexes.
    type Indexes: SecondaryIndexes<Self::Row, Self::Pk>;
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
}

/// Reads the committed row version at a link (`None` when it cannot be read). Unique
/// indexes store no values: they confirm a value by reading it from the row.
pub type RowAt<'a, Row> = dyn Fn(Link) -> Option<Row> + 'a;

/// The secondary indexes of a table, kept by its commit point. A row's versions are
/// named by their links: unique indexes lead from a value straight to the version.
pub trait SecondaryIndexes<Row, Pk>: Default + Send + Sync + 'static {
    /// The name of a unique index in which another row already holds `row`'s value;
    /// `current` is the link of the row's committed version (none for a new row).
    fn conflict(
        &self,
        row: &Row,
        current: Option<Link>,
        rows: &RowAt<'_, Row>,
    ) -> Option<&'static str>;
    /// Adds the entries of a new row, whose version is at `link`.
    fn insert(&self, row: &Row, pk: &Pk, link: Link);
    /// Removes the entries of a deleted row, whose last version is at `link`.
    fn remove(&self, row: &Row, pk: &Pk, link: Link);
    /// First half of an update from version `old` (at `old_link`) to `new`: removes the
    /// entries of the values `old` holds and `new` does not. Entries of unchanged values
    /// stay, so readers of those values never miss the row.
    fn leave(&self, old: &Row, new: &Row, pk: &Pk, old_link: Link);
    /// Second half of the update: adds the entries of the values `new` holds and `old`
    /// did not, and points the unique entries of unchanged values at `new_link`.
    fn enter(&self, old: &Row, new: &Row, pk: &Pk, old_link: Link, new_link: Link);
    /// The first change of a set, applied together, that would violate a unique index,
    /// with the index's name: two changed rows taking one value, or a row taking a value
    /// held by a row outside the set (or by one inside it that keeps it). Values that rows
    /// of the set give up are free for the others. See [`group_unique_conflict`].
    fn group_conflict(
        &self,
        changes: &[RowChange<'_, Row, Pk>],
        rows: &RowAt<'_, Row>,
    ) -> Option<(usize, &'static str)>;
}

/// One row of a multi-row write: its version before (none for an insert) and after.
pub struct RowChange<'a, Row, Pk> {
    /// The committed version and its link; `None` for a row being inserted.
    pub old: Option<(&'a Row, Link)>,
    /// The version the update would commit.
    pub new: &'a Row,
    /// The row's primary key.
    pub pk: &'a Pk,
}

/// The position of the first of `changes` that, applied together with the others, would
/// violate the unique `index` on the column that `get` reads (see
/// [`SecondaryIndexes::group_conflict`]).
pub fn group_unique_conflict<Row, Pk: IndexKey, V: IndexKey>(
    index: &UniqueIndex<V, Pk>,
    changes: &[RowChange<'_, Row, Pk>],
    get: fn(&Row) -> &V,
    rows: &RowAt<'_, Row>,
) -> Option<usize> {
    use foldhash::{HashMap, HashSet};
    let gives_up =
        |c: &RowChange<'_, Row, Pk>| c.old.is_some_and(|(old, _)| get(old) != get(c.new));
    let takes = |c: &RowChange<'_, Row, Pk>| c.old.is_none_or(|(old, _)| get(old) != get(c.new));
    // Versions of the rows of the set that hold a value now, and whether each gives it up.
    let moving: HashMap<Link, bool> = changes
        .iter()
        .filter_map(|c| c.old.map(|(_, link)| (link, gives_up(c))))
        .collect();
    let mut taken: HashSet<&V> = HashSet::default();
    for (position, change) in changes.iter().enumerate().filter(|(_, c)| takes(c)) {
        let value = get(change.new);
        if !taken.insert(value) {
            return Some(position);
        }
        let value_at = |link| rows(link).map(|row| get(&row).clone());
        if let Some(owner) = index.owner(value, value_at) {
            if !moving.get(&owner).copied().unwrap_or(false) {
                return Some(position);
            }
        }
    }
    None
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
