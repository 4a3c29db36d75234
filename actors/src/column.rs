//! Columns seen generically: how to read a column from a row, coerce a query value to
//! its type, compare two values, and which ordered index (if any) covers it.
//!
//! # One order per column type
//!
//! A column is filtered, sorted and compared by one total order: `Ord` for the types
//! that have it, and [`TotalOrder`] for `f32`, `f64` and `Option`s of them. Types with
//! only a partial order (`PartialOrd` without `Ord`, other than the floats) have no order
//! here: filtering or sorting by them is
//! [`ColumnNotOrdered`](WorkTableError::ColumnNotOrdered), because a sort by a
//! comparison that is not total gives no defined result.
//!
//! # Coercions are exact
//!
//! See [`coerce`]: a query value of another type than the column's must stand for
//! exactly one value of the column's type.

use std::any::{Any, type_name};
use std::cmp::Ordering;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use worktable_pages::index::{IndexKey, KeyRange, NonUniqueIndex, PrimaryIndex, UniqueIndex};

use crate::WorkTableError;

/// Everything the query builder needs to know of one column with values of type `T`.
pub struct ColumnDef<Row, T> {
    /// The declared column name.
    pub name: &'static str,
    /// Reads the column from a row.
    pub get: fn(&Row) -> &T,
    /// Turns a value given to a query into the column's type, if it can stand for one.
    pub coerce: fn(&dyn Any) -> Option<T>,
    /// Orders two values; `None` when the type has no order.
    pub compare: Option<fn(&T, &T) -> Ordering>,
}

/// The ordered index on a column, if there is one.
pub enum ColumnIndex<'i, T, Pk: IndexKey> {
    /// The column is not indexed.
    None,
    /// The column is the table's single primary-key column; `to_key` wraps a value.
    Primary(&'i PrimaryIndex<Pk>, fn(T) -> Pk),
    /// A secondary index covers the column.
    Secondary(&'i dyn OrderedIndex<T, Pk>),
}

/// An index that lists primary keys by a range of column values.
pub trait OrderedIndex<T, Pk>: Send + Sync {
    /// Primary keys of the rows whose value is in `range`, in value order (descending
    /// when `reverse`), at most `limit`.
    fn keys_in(&self, range: KeyRange<T>, reverse: bool, limit: usize) -> Vec<Pk>;

    /// Whether no two rows can share a value.
    fn is_unique(&self) -> bool;
}

impl<T: IndexKey, Pk: IndexKey> OrderedIndex<T, Pk> for UniqueIndex<T, Pk> {
    fn keys_in(&self, range: KeyRange<T>, reverse: bool, limit: usize) -> Vec<Pk> {
        if reverse {
            self.keys_in_rev(range, limit)
        } else {
            UniqueIndex::keys_in(self, range, limit)
        }
    }

    fn is_unique(&self) -> bool {
        true
    }
}

impl<T: IndexKey, Pk: IndexKey> OrderedIndex<T, Pk> for NonUniqueIndex<T, Pk> {
    fn keys_in(&self, range: KeyRange<T>, reverse: bool, limit: usize) -> Vec<Pk> {
        if reverse {
            self.keys_in_rev(range, limit)
        } else {
            NonUniqueIndex::keys_in(self, range, limit)
        }
    }

    fn is_unique(&self) -> bool {
        false
    }
}

impl<T, Pk: IndexKey> ColumnIndex<'_, T, Pk> {
    /// Whether an index covers the column.
    pub fn exists(&self) -> bool {
        !matches!(self, ColumnIndex::None)
    }

    /// Whether the index gives every row its own value (the primary key, or a unique
    /// index), so index order has no ties.
    pub fn is_unique(&self) -> bool {
        match self {
            ColumnIndex::None => false,
            ColumnIndex::Primary(..) => true,
            ColumnIndex::Secondary(index) => index.is_unique(),
        }
    }

    /// Primary keys in `range` through the index, or `None` without one.
    pub fn keys_in(&self, range: KeyRange<T>, reverse: bool, limit: usize) -> Option<Vec<Pk>> {
        match self {
            ColumnIndex::None => None,
            ColumnIndex::Secondary(index) => Some(index.keys_in(range, reverse, limit)),
            ColumnIndex::Primary(primary, to_key) => {
                let range = (map_bound(range.0, *to_key), map_bound(range.1, *to_key));
                Some(if reverse {
                    primary.keys_in_rev(range, limit)
                } else {
                    primary.keys_in(range, limit)
                })
            }
        }
    }
}

fn map_bound<T, U>(bound: Bound<T>, f: impl FnOnce(T) -> U) -> Bound<U> {
    match bound {
        Bound::Included(v) => Bound::Included(f(v)),
        Bound::Excluded(v) => Bound::Excluded(f(v)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Receives one column's definition and index; the table calls it for a named column.
pub trait ColumnVisitor<'i, Row, Pk: IndexKey> {
    /// What the visit produces.
    type Output;
    /// Visits a column with values of type `T`.
    fn visit<T: Clone + Send + Sync + 'static>(
        self,
        column: ColumnDef<Row, T>,
        index: ColumnIndex<'i, T, Pk>,
    ) -> Self::Output;
}

/// A value given to a query, before the column's type is known.
pub type AnyValue = Arc<dyn Any + Send + Sync>;

/// A range given to a query, before the column's type is known.
#[derive(Clone)]
pub struct ErasedRange {
    start: Bound<AnyValue>,
    end: Bound<AnyValue>,
    type_name: &'static str,
}

impl std::fmt::Debug for ErasedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ErasedRange<{}>", self.type_name)
    }
}

impl ErasedRange {
    /// Erases `range` over values of type `T`.
    pub fn new<T: Clone + Send + Sync + 'static>(range: impl RangeBounds<T>) -> Self {
        let erase = |bound: Bound<&T>| -> Bound<AnyValue> {
            map_bound(bound.cloned(), |v| Arc::new(v) as AnyValue)
        };
        ErasedRange {
            start: erase(range.start_bound()),
            end: erase(range.end_bound()),
            type_name: type_name::<T>(),
        }
    }

    /// The range holding exactly `value`.
    pub fn single<T: Clone + Send + Sync + 'static>(value: T) -> Self {
        ErasedRange::new(value.clone()..=value)
    }

    /// The range in the column's type, or why it cannot be.
    pub fn typed<T: 'static>(
        &self,
        column: &'static str,
        coerce: fn(&dyn Any) -> Option<T>,
    ) -> Result<KeyRange<T>, WorkTableError> {
        let convert = |bound: &Bound<AnyValue>| -> Result<Bound<T>, WorkTableError> {
            Ok(match bound {
                Bound::Included(v) => Bound::Included(self.coerce_one(column, &**v, coerce)?),
                Bound::Excluded(v) => Bound::Excluded(self.coerce_one(column, &**v, coerce)?),
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        Ok((convert(&self.start)?, convert(&self.end)?))
    }

    fn coerce_one<T: 'static>(
        &self,
        column: &'static str,
        value: &(dyn Any + Send + Sync),
        coerce: fn(&dyn Any) -> Option<T>,
    ) -> Result<T, WorkTableError> {
        coerce(value as &dyn Any).ok_or(WorkTableError::ColumnType {
            column,
            expected: type_name::<T>(),
            found: self.type_name,
        })
    }
}

/// Whether `value` lies in `range` under `compare`.
pub fn in_range<T>(value: &T, range: &KeyRange<T>, compare: fn(&T, &T) -> Ordering) -> bool {
    let above_start = match &range.0 {
        Bound::Included(s) => compare(value, s) != Ordering::Less,
        Bound::Excluded(s) => compare(value, s) == Ordering::Greater,
        Bound::Unbounded => true,
    };
    let below_end = match &range.1 {
        Bound::Included(e) => compare(value, e) != Ordering::Greater,
        Bound::Excluded(e) => compare(value, e) == Ordering::Less,
        Bound::Unbounded => true,
    };
    above_start && below_end
}

/// The values lying in both `a` and `b` under `compare`: the later start and the earlier
/// end (an excluded bound is the tighter one of two at the same value).
pub fn intersect<T>(
    a: KeyRange<T>,
    b: KeyRange<T>,
    compare: fn(&T, &T) -> Ordering,
) -> KeyRange<T> {
    (
        tighter(a.0, b.0, compare, Ordering::Greater),
        tighter(a.1, b.1, compare, Ordering::Less),
    )
}

/// Of two bounds on one side of a range, the one that keeps fewer values: the one whose
/// value compares as `inner` to the other's (`Greater` for starts, `Less` for ends).
fn tighter<T>(
    a: Bound<T>,
    b: Bound<T>,
    compare: fn(&T, &T) -> Ordering,
    inner: Ordering,
) -> Bound<T> {
    let ordering = match (&a, &b) {
        (Bound::Unbounded, _) => return b,
        (_, Bound::Unbounded) => return a,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            compare(x, y)
        }
    };
    if ordering == inner {
        a
    } else if ordering == Ordering::Equal {
        if matches!(b, Bound::Excluded(_)) {
            b
        } else {
            a
        }
    } else {
        b
    }
}

/// The order by which queries filter, sort and compare the float types (and `Option`s
/// of them, `None` first): IEEE 754 `totalOrder`, as [`f64::total_cmp`] gives it.
///
/// From first to last: the negative NaNs, `-inf`, the negative numbers, `-0.0`, `+0.0`,
/// the positive numbers, `+inf`, the positive NaNs (NaNs of one sign ordered by their
/// payload bits). So:
///
/// * `-0.0 < +0.0`: the range `0.0..=0.0` does not hold `-0.0`, `-0.0..=0.0` does.
/// * A NaN lies in a range only where the order puts it: `100.0..=200.0` and
///   `f64::NEG_INFINITY..=f64::INFINITY` hold no NaN, `0.0..` holds the positive NaNs,
///   `..` holds them all.
/// * A NaN bound stands for its bit pattern: `f64::NAN..=f64::NAN` (or `where_eq` with
///   `f64::NAN`) matches exactly the rows holding a NaN with those bits, and no number.
/// * `order_by` sorts every value, NaNs included: ascending, `-NaN` first and `+NaN`
///   last.
/// * Queries that find rows `by` a float column (a `delete` query scanning it) find the
///   rows holding a value the order finds equal: the same bits.
pub trait TotalOrder {
    /// Compares `self` with `other` by the total order.
    fn total_order(&self, other: &Self) -> Ordering;
}

impl TotalOrder for f32 {
    fn total_order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl TotalOrder for f64 {
    fn total_order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

/// `None` first, as `Option`'s `Ord` puts it.
impl<T: TotalOrder> TotalOrder for Option<T> {
    fn total_order(&self, other: &Self) -> Ordering {
        match (self, other) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.total_order(b),
        }
    }
}

/// Compile-time probes the generated code uses to pick, per column type, how values are
/// compared and coerced. Call as `(&&&Probe::<T>::NEW).compare_fn()` and
/// `(&&Probe::<T>::NEW).coerce_fn()`, and `(&&Probe::<T>::NEW).same_fn()`: method lookup
/// takes the most capable impl the type satisfies (`Ord`, then [`TotalOrder`], then
/// none). Clippy calls those references
/// needless (`clippy::needless_borrow`); they are what makes the choice, so code that
/// calls the probes allows that lint.
pub mod probe {
    use super::*;

    /// A zero-sized stand-in for the type `T`.
    pub struct Probe<T>(PhantomData<fn() -> T>);

    impl<T> Probe<T> {
        /// The probe.
        pub const NEW: Self = Probe(PhantomData);
    }

    /// Picked for types with a total order.
    pub trait CompareByOrd<T> {
        /// The comparison of `T`.
        fn compare_fn(&self) -> Option<fn(&T, &T) -> Ordering>;
    }
    impl<T: Ord> CompareByOrd<T> for &&Probe<T> {
        fn compare_fn(&self) -> Option<fn(&T, &T) -> Ordering> {
            Some(T::cmp)
        }
    }

    /// Picked for the float types (and `Option`s of them): their [`TotalOrder`].
    pub trait CompareByTotalOrder<T> {
        /// The comparison of `T`.
        fn compare_fn(&self) -> Option<fn(&T, &T) -> Ordering>;
    }
    impl<T: TotalOrder> CompareByTotalOrder<T> for &Probe<T> {
        fn compare_fn(&self) -> Option<fn(&T, &T) -> Ordering> {
            Some(T::total_order)
        }
    }

    /// Picked for types without a total order (a type with only `PartialOrd` included).
    pub trait NoCompare<T> {
        /// `None`: the type has no order.
        fn compare_fn(&self) -> Option<fn(&T, &T) -> Ordering>;
    }
    impl<T> NoCompare<T> for Probe<T> {
        fn compare_fn(&self) -> Option<fn(&T, &T) -> Ordering> {
            None
        }
    }

    /// Picked for the float types: two values are the same when the [`TotalOrder`]
    /// finds them equal (bit for bit: a NaN is the same as itself, `-0.0` is not
    /// `+0.0`), as filters and sorts see them.
    pub trait SameByTotalOrder<T> {
        /// Whether two values of `T` are the same.
        fn same_fn(&self) -> fn(&T, &T) -> bool;
    }
    impl<T: TotalOrder> SameByTotalOrder<T> for &Probe<T> {
        fn same_fn(&self) -> fn(&T, &T) -> bool {
            |a, b| a.total_order(b) == Ordering::Equal
        }
    }

    /// Picked for every other type: `==`.
    pub trait SameByEq<T> {
        /// Whether two values of `T` are the same.
        fn same_fn(&self) -> fn(&T, &T) -> bool;
    }
    impl<T: PartialEq> SameByEq<T> for Probe<T> {
        fn same_fn(&self) -> fn(&T, &T) -> bool {
            |a, b| a == b
        }
    }

    /// Picked for types that accept values of related types (integers of any width,
    /// floats, `&'static str` for `String`, `T` for `Option<T>`).
    pub trait CoerceRelated<T> {
        /// The coercion into `T`.
        fn coerce_fn(&self) -> fn(&dyn Any) -> Option<T>;
    }
    impl<T: super::coerce::Related> CoerceRelated<T> for &Probe<T> {
        fn coerce_fn(&self) -> fn(&dyn Any) -> Option<T> {
            T::from_any
        }
    }

    /// Picked for every other type: only a value of exactly `T` will do.
    pub trait CoerceExact<T> {
        /// The coercion into `T`.
        fn coerce_fn(&self) -> fn(&dyn Any) -> Option<T>;
    }
    impl<T: Clone + 'static> CoerceExact<T> for Probe<T> {
        fn coerce_fn(&self) -> fn(&dyn Any) -> Option<T> {
            |value| value.downcast_ref::<T>().cloned()
        }
    }
}

/// Coercions of query values into column types.
///
/// A query value of another type than the column's is accepted when it stands for
/// exactly one value of the column's type: an integer of any width that fits, an integer
/// that a float type holds exactly (`16_777_217` is no `f32`), a float of the other width
/// that converts without rounding (bit for bit, through the round trip: `0.1f64` is no
/// `f32`), `&'static str` for `String`, `T` for `Option<T>`. Anything else is
/// [`ColumnType`](crate::WorkTableError::ColumnType).
pub mod coerce {
    use std::any::Any;

    /// A column type that accepts query values of related types, when they stand for
    /// exactly one value of it (see the [module docs](self)).
    pub trait Related: Sized + Clone + 'static {
        /// `value` as `Self`, when it is `Self` or a related type that fits.
        fn from_any(value: &dyn Any) -> Option<Self>;
    }

    /// Any integer type's value, widened.
    fn integer(value: &dyn Any) -> Option<Result<i128, u128>> {
        macro_rules! try_int {
            (signed: $($s:ty),*; unsigned: $($u:ty),*) => {
                $(if let Some(v) = value.downcast_ref::<$s>() { return Some(Ok(*v as i128)); })*
                $(if let Some(v) = value.downcast_ref::<$u>() { return Some(Err(*v as u128)); })*
            };
        }
        try_int!(signed: i8, i16, i32, i64, i128, isize; unsigned: u8, u16, u32, u64, u128, usize);
        None
    }

    macro_rules! related_int {
        ($($t:ty),*) => {$(
            impl Related for $t {
                fn from_any(value: &dyn Any) -> Option<Self> {
                    match integer(value)? {
                        Ok(v) => <$t>::try_from(v).ok(),
                        Err(v) => <$t>::try_from(v).ok(),
                    }
                }
            }
        )*};
    }
    related_int!(
        i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
    );

    /// Whether the float `float` (an integer value, made by rounding `integer`) is
    /// exactly `integer`. Bounds first: a cast back from a float out of the integer type's
    /// range would saturate and seem to match.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the bounds checked first make the casts exact"
    )]
    fn float_is_integer(float: f64, integer: Result<i128, u128>) -> bool {
        const TWO_127: f64 = -(i128::MIN as f64);
        match integer {
            Ok(v) => (-TWO_127..TWO_127).contains(&float) && float as i128 == v,
            Err(v) => (0.0..2.0 * TWO_127).contains(&float) && float as u128 == v,
        }
    }

    impl Related for f32 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            reason = "every cast is checked to be exact before its value is used"
        )]
        fn from_any(value: &dyn Any) -> Option<Self> {
            if let Some(v) = value.downcast_ref::<f32>() {
                return Some(*v);
            }
            if let Some(v) = value.downcast_ref::<f64>() {
                let narrow = *v as f32;
                return (f64::from(narrow).to_bits() == v.to_bits()).then_some(narrow);
            }
            let integer = integer(value)?;
            let float = match integer {
                Ok(v) => v as f32,
                Err(v) => v as f32,
            };
            float_is_integer(f64::from(float), integer).then_some(float)
        }
    }

    impl Related for f64 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            reason = "every cast is checked to be exact before its value is used"
        )]
        fn from_any(value: &dyn Any) -> Option<Self> {
            if let Some(v) = value.downcast_ref::<f64>() {
                return Some(*v);
            }
            if let Some(v) = value.downcast_ref::<f32>() {
                let wide = f64::from(*v);
                return ((wide as f32).to_bits() == v.to_bits()).then_some(wide);
            }
            let integer = integer(value)?;
            let float = match integer {
                Ok(v) => v as f64,
                Err(v) => v as f64,
            };
            float_is_integer(float, integer).then_some(float)
        }
    }

    impl Related for String {
        fn from_any(value: &dyn Any) -> Option<Self> {
            value.downcast_ref::<String>().cloned().or_else(|| {
                value
                    .downcast_ref::<&'static str>()
                    .map(|s| (*s).to_owned())
            })
        }
    }

    impl<T: Related> Related for Option<T> {
        fn from_any(value: &dyn Any) -> Option<Self> {
            if let Some(v) = value.downcast_ref::<Option<T>>() {
                return Some(v.clone());
            }
            T::from_any(value).map(Some)
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::needless_borrow,
    reason = "the probes pick impls by the number of references"
)]
mod tests {
    use super::probe::*;
    use super::*;

    #[test]
    fn probes_pick_the_most_capable_impl() {
        assert!((&&&Probe::<i64>::NEW).compare_fn().is_some());
        let float = (&&&Probe::<f64>::NEW)
            .compare_fn()
            .expect("floats are partially ordered");
        assert_eq!(float(&1.0, &2.0), Ordering::Less);
        struct Opaque;
        assert!((&&&Probe::<Opaque>::NEW).compare_fn().is_none());
        #[derive(PartialEq, PartialOrd)]
        struct OnlyPartial(f64);
        assert!(
            (&&&Probe::<OnlyPartial>::NEW).compare_fn().is_none(),
            "a partial order is no order to sort by"
        );
    }

    #[test]
    fn floats_compare_by_their_total_order() {
        let float = (&&&Probe::<f64>::NEW)
            .compare_fn()
            .expect("floats have a total order");
        let nan = f64::NAN;
        assert_eq!(float(&nan, &1.0), Ordering::Greater, "+NaN sorts last");
        assert_eq!(float(&-nan, &f64::NEG_INFINITY), Ordering::Less);
        assert_eq!(float(&-0.0, &0.0), Ordering::Less, "-0.0 < +0.0");
        assert_eq!(float(&nan, &nan), Ordering::Equal);
        let optional = (&&&Probe::<Option<f32>>::NEW)
            .compare_fn()
            .expect("optional floats have a total order");
        assert_eq!(optional(&None, &Some(f32::NEG_INFINITY)), Ordering::Less);
        assert_eq!(optional(&Some(f32::NAN), &Some(1.0)), Ordering::Greater);
        let same = (&&Probe::<f64>::NEW).same_fn();
        assert!(same(&nan, &nan), "a NaN is the same as itself");
        assert!(!same(&-0.0, &0.0));
        let same = (&&Probe::<String>::NEW).same_fn();
        assert!(same(&"a".to_owned(), &"a".to_owned()));
    }

    #[test]
    fn a_nan_lies_only_where_the_order_puts_it() {
        let compare = (&&&Probe::<f64>::NEW).compare_fn().expect("ordered");
        let span = (Bound::Included(100.0), Bound::Included(200.0));
        assert!(!in_range(&f64::NAN, &span, compare));
        assert!(!in_range(&-f64::NAN, &span, compare));
        let nans = (Bound::Included(f64::NAN), Bound::Included(f64::NAN));
        assert!(in_range(&f64::NAN, &nans, compare));
        assert!(!in_range(&0.5, &nans, compare));
        assert!(!in_range(&-f64::NAN, &nans, compare), "another NaN");
        let zero = (Bound::Included(0.0), Bound::Included(0.0));
        assert!(!in_range(&-0.0, &zero, compare));
    }

    #[test]
    fn inexact_coercions_are_refused() {
        let to_f32 = (&&Probe::<f32>::NEW).coerce_fn();
        assert_eq!(to_f32(&16_777_216i32), Some(16_777_216.0));
        assert_eq!(to_f32(&16_777_217i32), None, "2^24 + 1 is no f32");
        assert_eq!(to_f32(&0.5f64), Some(0.5));
        assert_eq!(to_f32(&0.1f64), None, "0.1f64 rounds as an f32");
        assert_eq!(to_f32(&f64::INFINITY), Some(f32::INFINITY));
        assert!(to_f32(&f64::NAN).is_some_and(f32::is_nan));
        assert_eq!(to_f32(&u128::MAX), None, "rounds past f32::MAX");
        let to_f64 = (&&Probe::<f64>::NEW).coerce_fn();
        assert_eq!(to_f64(&(1i64 << 60)), Some(2f64.powi(60)));
        assert_eq!(to_f64(&((1i64 << 53) + 1)), None);
        assert_eq!(to_f64(&i128::MAX), None, "rounds to 2^127, one past it");
        assert_eq!(to_f64(&i128::MIN), Some(-(2f64.powi(127))));
        assert_eq!(to_f64(&u128::MAX), None, "rounds to 2^128, one past it");
        assert_eq!(
            to_f64(&-0.0f32).map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        let to_opt = (&&Probe::<Option<f32>>::NEW).coerce_fn();
        assert_eq!(to_opt(&16_777_217u64), None);
    }

    #[test]
    fn intersections_keep_the_tighter_bounds() {
        use Bound::*;
        let both = |a: KeyRange<i32>, b: KeyRange<i32>| {
            let ab = intersect(a, b, i32::cmp);
            assert_eq!(ab, intersect(b, a, i32::cmp), "the order does not matter");
            ab
        };
        assert_eq!(
            both((Included(1), Unbounded), (Included(5), Unbounded)),
            (Included(5), Unbounded)
        );
        assert_eq!(
            both((Included(5), Included(9)), (Excluded(5), Excluded(9))),
            (Excluded(5), Excluded(9))
        );
        assert_eq!(
            both((Unbounded, Included(3)), (Included(7), Unbounded)),
            (Included(7), Included(3)),
            "disjoint ranges make an empty one"
        );
        assert_eq!(
            both((Unbounded, Unbounded), (Unbounded, Unbounded)),
            (Unbounded, Unbounded)
        );
    }

    #[test]
    fn query_values_coerce_to_related_column_types() {
        let to_u64 = (&&Probe::<u64>::NEW).coerce_fn();
        assert_eq!(to_u64(&5i32), Some(5));
        assert_eq!(to_u64(&-5i32), None, "a negative value is no u64");
        assert_eq!(to_u64(&"5"), None);
        let to_string = (&&Probe::<String>::NEW).coerce_fn();
        assert_eq!(to_string(&"abc"), Some("abc".to_owned()));
        let to_opt = (&&Probe::<Option<u64>>::NEW).coerce_fn();
        assert_eq!(to_opt(&3u8), Some(Some(3)));
        assert_eq!(to_opt(&None::<u64>), Some(None));
        #[derive(Clone, PartialEq, Debug)]
        struct Custom(u8);
        let to_custom = (&&Probe::<Custom>::NEW).coerce_fn();
        assert_eq!(to_custom(&Custom(1)), Some(Custom(1)));
        assert_eq!(to_custom(&1u8), None);
    }

    #[test]
    fn erased_ranges_type_check() {
        let range = ErasedRange::new(1i32..=9);
        let typed = range
            .typed::<u64>("c", (&&Probe::<u64>::NEW).coerce_fn())
            .expect("ints coerce");
        assert_eq!(typed, (Bound::Included(1), Bound::Included(9)));
        let err = ErasedRange::new("a".to_owned()..)
            .typed::<u64>("c", (&&Probe::<u64>::NEW).coerce_fn())
            .expect_err("a string is no u64");
        assert!(matches!(
            err,
            WorkTableError::ColumnType { column: "c", .. }
        ));
        assert!(in_range(&5u64, &typed, u64::cmp));
        assert!(!in_range(&10u64, &typed, u64::cmp));
    }
}
