//! The `select_all` query builder.
//!
//! Rows are read one by one at execution time: each row is a consistent version, but
//! the result is not a snapshot of the whole table at one instant.

use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};

use worktable_pages::index::{IndexKey, KeyRange};

use crate::column::{ColumnDef, ColumnIndex, ColumnVisitor, ErasedRange, in_range, intersect};
use crate::schema::TableColumn;
use crate::{Table, TableSchema, WorkTableError};

/// Sort direction for [`SelectQuery::order_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Something that names a column: the generated column enum, or its name as a string
/// (an unknown name makes [`SelectQuery::execute`] return `UnknownColumn`).
pub trait ColumnArg<C> {
    /// The column named.
    fn resolve(self) -> Result<C, WorkTableError>;
}

impl<C: TableColumn> ColumnArg<C> for C {
    fn resolve(self) -> Result<C, WorkTableError> {
        Ok(self)
    }
}

impl<C: TableColumn> ColumnArg<C> for &str {
    fn resolve(self) -> Result<C, WorkTableError> {
        C::from_name(self).ok_or_else(|| WorkTableError::UnknownColumn(self.to_owned()))
    }
}

impl<C: TableColumn> ColumnArg<C> for String {
    fn resolve(self) -> Result<C, WorkTableError> {
        self.as_str().resolve()
    }
}

/// A query over a table's rows: filters by ranges of column values (combined with AND,
/// so several ranges on one column keep the values in all of them), sorts by one or more
/// columns, then skips `offset` rows and keeps `limit`.
///
/// Values are compared by one total order per column type: `Ord`, or for floats IEEE
/// 754 `totalOrder` (NaNs sort last when positive and first when negative, and
/// `-0.0 < +0.0`; see [`TotalOrder`](crate::TotalOrder)). Without `order_by`,
/// rows come in primary-key order; rows that tie on every
/// `order_by` column also keep primary-key order. A filter on an indexed column (the
/// primary key or a secondary index) reads only the matching entries of that index
/// instead of scanning the table. Mistakes (an unknown column, a range of the wrong
/// type, ordering by a column without an order) are returned by [`SelectQuery::execute`].
#[must_use = "a query does nothing until `execute` is called"]
pub struct SelectQuery<'t, S: TableSchema> {
    table: &'t Table<S>,
    filters: Vec<(S::Column, ErasedRange)>,
    order: Vec<(Order, S::Column)>,
    offset: usize,
    limit: usize,
    error: Option<WorkTableError>,
}

impl<'t, S: TableSchema> SelectQuery<'t, S> {
    pub(crate) fn new(table: &'t Table<S>) -> Self {
        SelectQuery {
            table,
            filters: Vec::new(),
            order: Vec::new(),
            offset: 0,
            limit: usize::MAX,
            error: None,
        }
    }

    fn column(&mut self, column: impl ColumnArg<S::Column>) -> Option<S::Column> {
        match column.resolve() {
            Ok(column) => Some(column),
            Err(error) => {
                self.error.get_or_insert(error);
                None
            }
        }
    }

    /// Keeps rows whose `column` lies in `range`. Integer ranges work on any integer
    /// column the values fit, `&str` ranges on `String` columns, and `T` on `Option<T>`.
    pub fn where_by<T, R>(mut self, range: R, column: impl ColumnArg<S::Column>) -> Self
    where
        T: Clone + Send + Sync + 'static,
        R: RangeBounds<T>,
    {
        if let Some(column) = self.column(column) {
            self.filters.push((column, ErasedRange::new(range)));
        }
        self
    }

    /// Keeps rows whose `column` equals `value`.
    pub fn where_eq<T>(mut self, value: T, column: impl ColumnArg<S::Column>) -> Self
    where
        T: Clone + Send + Sync + 'static,
    {
        if let Some(column) = self.column(column) {
            self.filters.push((column, ErasedRange::single(value)));
        }
        self
    }

    /// Sorts by `column`; later calls break ties of earlier ones.
    pub fn order_by(mut self, order: Order, column: impl ColumnArg<S::Column>) -> Self {
        if let Some(column) = self.column(column) {
            self.order.push((order, column));
        }
        self
    }

    /// Skips the first `offset` rows of the result.
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// Keeps at most `limit` rows.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Runs the query and returns the primary keys of the rows it selects.
    pub fn execute_keys(&self) -> Result<Vec<S::Pk>, WorkTableError> {
        Ok(self.execute()?.iter().map(S::primary_key).collect())
    }

    /// Runs the query.
    pub fn execute(&self) -> Result<Vec<S::Row>, WorkTableError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let primary = self.table.primary_index();
        let indexes = self.table.indexes();
        let filtered = self.filters_by_column();
        let mut plans = Vec::with_capacity(filtered.len());
        for (column, ranges) in &filtered {
            plans.push(S::visit_column(
                *column,
                primary,
                indexes,
                FilterPlanner { ranges },
            )?);
        }
        let comparators = self
            .order
            .iter()
            .map(|(order, column)| {
                S::visit_column(
                    *column,
                    primary,
                    indexes,
                    ComparatorBuilder { order: *order },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;

        // A filter on another indexed column usually selects fewer rows than walking the
        // order column would read, so it keeps its index scan.
        let other_index_scan = filtered.iter().zip(&plans).any(|((column, _), plan)| {
            plan.scan.is_some()
                && self
                    .order
                    .first()
                    .is_some_and(|(_, c)| c.name() != column.name())
        });
        if !other_index_scan && let Some(walk) = self.ordered_walk()? {
            return Ok(self.walk(walk, &plans, &comparators));
        }
        let indexed_scan = plans.iter_mut().find_map(|plan| plan.scan.take());
        let (keys, in_key_order) = match indexed_scan {
            Some(scan) => (scan(), false),
            None => {
                let unfiltered = plans.is_empty() && comparators.is_empty();
                let wanted = if unfiltered {
                    self.offset.saturating_add(self.limit)
                } else {
                    usize::MAX
                };
                (
                    primary.keys_in((Bound::Unbounded, Bound::Unbounded), wanted),
                    true,
                )
            }
        };
        let mut rows = self.table.read_many(keys);
        rows.retain(|row| plans.iter().all(|plan| (plan.filter)(row)));
        if !in_key_order {
            rows.sort_by_cached_key(|row| S::primary_key(row));
        }
        sort_rows(&mut rows, &comparators);
        Ok(rows
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect())
    }

    /// The filters grouped by column, each column once, in the order of its first filter.
    fn filters_by_column(&self) -> Vec<(S::Column, Vec<&ErasedRange>)> {
        let mut grouped: Vec<(S::Column, Vec<&ErasedRange>)> = Vec::new();
        for (column, range) in &self.filters {
            match grouped.iter_mut().find(|(c, _)| c.name() == column.name()) {
                Some((_, ranges)) => ranges.push(range),
                None => grouped.push((*column, vec![range])),
            }
        }
        grouped
    }

    /// The first `order_by` column's index walked in the requested order, over the
    /// intersection of the filters on that column, when the column has an index.
    fn ordered_walk(&self) -> Result<Option<OrderedWalk<'t, S::Pk>>, WorkTableError> {
        let Some(&(order, column)) = self.order.first() else {
            return Ok(None);
        };
        let ranges: Vec<&ErasedRange> = self
            .filters
            .iter()
            .filter(|(filtered, _)| filtered.name() == column.name())
            .map(|(_, range)| range)
            .collect();
        let table = self.table;
        let planner = WalkPlanner {
            order,
            ranges: &ranges,
        };
        S::visit_column(column, table.primary_index(), table.indexes(), planner)
    }

    /// Reads rows in the order of the first `order_by` column until the page is full:
    /// `offset + limit` rows that pass every filter, plus the rows that tie with the
    /// last of them on that column (later `order_by` columns and the key order decide
    /// among ties).
    fn walk(
        &self,
        walk: OrderedWalk<'t, S::Pk>,
        plans: &[FilterPlan<'_, S::Row, S::Pk>],
        comparators: &[RowComparator<S::Row>],
    ) -> Vec<S::Row> {
        let wanted = self.offset.saturating_add(self.limit);
        let only_this_column = self
            .filters
            .iter()
            .all(|(filtered, _)| filtered.name() == self.order[0].1.name());
        // Without ties or other filters, the first `wanted` keys are all the rows needed.
        let key_limit = if walk.unique && only_this_column {
            wanted
        } else {
            usize::MAX
        };
        let ties = |a: &S::Row, b: &S::Row| comparators[0](a, b) == Ordering::Equal;
        let mut rows: Vec<S::Row> = Vec::new();
        self.table.read_each((walk.keys)(key_limit), |row| {
            if !plans.iter().all(|plan| (plan.filter)(&row)) {
                return true;
            }
            if rows.len() >= wanted {
                let tied = rows.last().is_some_and(|last| ties(last, &row));
                if walk.unique || !tied {
                    return false;
                }
            }
            rows.push(row);
            true
        });
        if !walk.unique {
            rows.sort_by_cached_key(|row| S::primary_key(row));
        }
        sort_rows(&mut rows, comparators);
        rows.into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect()
    }
}

/// Sorts `rows` by `comparators`, keeping the current order among ties.
fn sort_rows<Row>(rows: &mut [Row], comparators: &[RowComparator<Row>]) {
    if comparators.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        comparators
            .iter()
            .map(|compare| compare(a, b))
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

/// Primary keys listed in the order of one column through its index.
struct OrderedWalk<'i, Pk> {
    /// Lists at most the given number of keys.
    keys: Box<dyn FnOnce(usize) -> Vec<Pk> + 'i>,
    /// Whether the column's values are unique, so the order has no ties.
    unique: bool,
}

struct WalkPlanner<'r> {
    order: Order,
    /// The filters on the walked column; none walks the whole index.
    ranges: &'r [&'r ErasedRange],
}

impl<'i, Row: 'static, Pk: IndexKey> ColumnVisitor<'i, Row, Pk> for WalkPlanner<'_> {
    type Output = Result<Option<OrderedWalk<'i, Pk>>, WorkTableError>;

    fn visit<T: Clone + Send + Sync + 'static>(
        self,
        column: ColumnDef<Row, T>,
        index: ColumnIndex<'i, T, Pk>,
    ) -> Self::Output {
        if !index.exists() {
            return Ok(None);
        }
        let range = combined_range(&column, self.ranges)?;
        let reverse = self.order == Order::Desc;
        let unique = index.is_unique();
        let keys = move |limit| index.keys_in(range, reverse, limit).unwrap_or_default();
        Ok(Some(OrderedWalk {
            keys: Box::new(keys),
            unique,
        }))
    }
}

type RowFilter<'i, Row> = Box<dyn Fn(&Row) -> bool + 'i>;
type KeyScan<'i, Pk> = Box<dyn FnOnce() -> Vec<Pk> + 'i>;
type RowComparator<Row> = Box<dyn Fn(&Row, &Row) -> Ordering>;

/// One filter, ready to run: a predicate on rows and, for an indexed column, the scan
/// that lists the candidate keys.
struct FilterPlan<'i, Row, Pk> {
    filter: RowFilter<'i, Row>,
    scan: Option<KeyScan<'i, Pk>>,
}

struct FilterPlanner<'r> {
    /// Every filter on the column: a row must lie in all of them.
    ranges: &'r [&'r ErasedRange],
}

impl<'i, Row: 'static, Pk: IndexKey> ColumnVisitor<'i, Row, Pk> for FilterPlanner<'_> {
    type Output = Result<FilterPlan<'i, Row, Pk>, WorkTableError>;

    fn visit<T: Clone + Send + Sync + 'static>(
        self,
        column: ColumnDef<Row, T>,
        index: ColumnIndex<'i, T, Pk>,
    ) -> Self::Output {
        let compare = column
            .compare
            .ok_or(WorkTableError::ColumnNotOrdered(column.name))?;
        let range = combined_range(&column, self.ranges)?;
        let scan = if index.exists() {
            let range = range.clone();
            Some(
                Box::new(move || index.keys_in(range, false, usize::MAX).unwrap_or_default())
                    as KeyScan<'i, Pk>,
            )
        } else {
            None
        };
        let get = column.get;
        Ok(FilterPlan {
            filter: Box::new(move |row| in_range(get(row), &range, compare)),
            scan,
        })
    }
}

/// The values lying in every one of `ranges`, in the column's type; unbounded when there
/// is none.
fn combined_range<Row, T: Clone + 'static>(
    column: &ColumnDef<Row, T>,
    ranges: &[&ErasedRange],
) -> Result<KeyRange<T>, WorkTableError> {
    let compare = column
        .compare
        .ok_or(WorkTableError::ColumnNotOrdered(column.name))?;
    let mut combined = (Bound::Unbounded, Bound::Unbounded);
    for range in ranges {
        combined = intersect(combined, range.typed(column.name, column.coerce)?, compare);
    }
    Ok(combined)
}

struct ComparatorBuilder {
    order: Order,
}

impl<Row: 'static, Pk: IndexKey> ColumnVisitor<'_, Row, Pk> for ComparatorBuilder {
    type Output = Result<RowComparator<Row>, WorkTableError>;

    fn visit<T: Clone + Send + Sync + 'static>(
        self,
        column: ColumnDef<Row, T>,
        _index: ColumnIndex<'_, T, Pk>,
    ) -> Self::Output {
        let compare = column
            .compare
            .ok_or(WorkTableError::ColumnNotOrdered(column.name))?;
        let get = column.get;
        Ok(match self.order {
            Order::Asc => Box::new(move |a, b| compare(get(a), get(b))),
            Order::Desc => Box::new(move |a, b| compare(get(b), get(a))),
        })
    }
}
