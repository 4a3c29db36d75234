//! The `autoincrement` primary-key generator.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::schema::PrimaryKeyGenerator;

/// An integer type an autoincrement key can count in.
pub trait CounterInt: Copy + Send + Sync + 'static {
    /// The integer for counter value `count`, or the type's maximum when it does not fit.
    fn from_counter(count: u64) -> Self;
    /// The counter value of this integer; `None` for negative values.
    fn to_counter(self) -> Option<u64>;
}

macro_rules! counter_int {
    ($($t:ty),*) => {$(
        impl CounterInt for $t {
            fn from_counter(count: u64) -> Self {
                <$t>::try_from(count).unwrap_or(<$t>::MAX)
            }
            fn to_counter(self) -> Option<u64> {
                u64::try_from(self).ok()
            }
        }
    )*};
}
counter_int!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

/// Hands out keys 0, 1, 2, … of integer type `I`, wrapped in the key type `Pk`.
///
/// Keys inserted with explicit values push the counter past them, so a generated key
/// never collides with one the user chose. When the integer type is exhausted the
/// generator keeps returning its maximum, and inserting it again fails with
/// `AlreadyExists` instead of wrapping around.
pub struct AutoIncrement<Pk, I> {
    next: AtomicU64,
    _key: PhantomData<fn() -> (Pk, I)>,
}

impl<Pk, I> Default for AutoIncrement<Pk, I> {
    fn default() -> Self {
        AutoIncrement {
            next: AtomicU64::new(0),
            _key: PhantomData,
        }
    }
}

impl<Pk, I: CounterInt> AutoIncrement<Pk, I> {
    /// Moves the counter past `value`, a key that was just inserted.
    pub fn observe(&self, value: I) {
        if let Some(count) = value.to_counter() {
            self.next
                .fetch_max(count.saturating_add(1), Ordering::AcqRel);
        }
    }
}

impl<Pk: From<I>, I: CounterInt> PrimaryKeyGenerator<Pk> for AutoIncrement<Pk, I> {
    fn next(&self) -> Pk {
        let count = self
            .next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(1))
            })
            .unwrap_or_else(|n| n);
        Pk::from(I::from_counter(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_zero_skips_observed_keys_and_saturates() {
        let generator = AutoIncrement::<u8, u8>::default();
        assert_eq!(generator.next(), 0);
        assert_eq!(generator.next(), 1);
        generator.observe(10);
        assert_eq!(generator.next(), 11);
        generator.observe(5);
        assert_eq!(
            generator.next(),
            12,
            "observing a smaller key changes nothing"
        );
        generator.observe(255);
        assert_eq!(generator.next(), 255, "u8 keys saturate at 255");
        assert_eq!(generator.next(), 255);
        let signed = AutoIncrement::<i32, i32>::default();
        signed.observe(-5);
        assert_eq!(signed.next(), 0, "negative keys do not move the counter");
    }
}
