//! Owned key ranges and their validation.

use std::ops::Bound;

/// An owned range over keys of type `T`, as `(start, end)` bounds.
pub type KeyRange<T> = (Bound<T>, Bound<T>);

/// Whether `range` contains no key at all. Ordered sets reject such ranges (a start past
/// the end), so callers answer them with no rows instead.
pub fn is_empty_range<T: Ord>(range: &KeyRange<T>) -> bool {
    use Bound::*;
    match (&range.0, &range.1) {
        (Included(s), Included(e)) => s > e,
        (Included(s), Excluded(e)) | (Excluded(s), Included(e)) | (Excluded(s), Excluded(e)) => {
            s >= e
        }
        (Unbounded, _) | (_, Unbounded) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Bound::*;

    #[test]
    fn empty_ranges_are_detected() {
        assert!(is_empty_range(&(Included(3), Included(2))));
        assert!(!is_empty_range(&(Included(3), Included(3))));
        assert!(is_empty_range(&(Included(3), Excluded(3))));
        assert!(is_empty_range(&(Excluded(3), Excluded(3))));
        assert!(
            !is_empty_range(&(Excluded(3), Excluded(4))),
            "ordered sets accept it"
        );
        assert!(!is_empty_range::<i32>(&(Unbounded, Unbounded)));
    }
}
