//! Index wrappers: the primary index, unique and non-unique secondary indexes, and the
//! traits by which a table describes its secondary indexes ([`IndexSet`]).
//!
//! Every index is written by one thread at a time and read concurrently by anyone. Only
//! this crate writes them: their mutators are private, and the one caller is the
//! [`Committer`](crate::Committer) of the [`RowStore`](crate::RowStore) that owns them.
//! Outside this crate an index can only be read. The primary key leads to a row through our own hash table of
//! row links (`row_map.rs`), which stores no keys and confirms a match by the key in the
//! row. Unique values lead to a primary key through a lock-free `scc::HashIndex`. Order
//! is kept per kind of index by what measured best for it: primary keys in an
//! `scc::TreeIndex` (they are mostly appended), unique values in an `indexset` set of
//! `(value, key)` entries, and non-unique values in an `scc::TreeIndex` of values, each
//! holding the keys of its rows. Secondary indexes map a value to primary keys, so an
//! update that leaves an indexed value alone does not touch that index.

mod bounds;
pub(crate) mod cell;
mod entry;
mod non_unique;
mod postings;
mod primary;
mod row_map;
mod set;
mod tree;
mod unique;

pub use bounds::{KeyRange, is_empty_range};
pub use entry::UniqueEntry;
pub use non_unique::NonUniqueIndex;
pub use primary::{PrimaryIndex, RowKeys};
pub use set::{IndexSet, IndexVisitor};
pub use unique::UniqueIndex;

/// Entries per node of the unique indexes' ordered (`indexset`) sets. An insert shifts half a node on
/// average; walking a range pays per node. Measured single-threaded on 200,000 entries
/// (2 cores, medians of 3): `(String, u64)` inserts took 370, 300, 275 and 275 ns with
/// nodes of 1024, 512, 256 and 128 entries, and one thousand-row range read 12, 12, 20
/// and 87 µs; 512 takes most of the insert gain and none of the range loss.
pub(crate) const ORDERED_NODE_SIZE: usize = 512;

/// What an index key needs: a total order, hashing for point lookups, and `Debug` for
/// the ordered structure.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an index key",
    label = "an indexed column or primary key needs `Ord + Hash + Clone + Debug + Send + Sync`",
    note = "derive `Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash` on the type, or drop the index"
)]
pub trait IndexKey:
    Ord + Clone + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static
{
}
impl<T> IndexKey for T where
    T: Ord + Clone + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static
{
}
