//! The `autoincrement` primary-key generator.
//!
//! # Exhaustion
//!
//! A generator never hands out a key twice. Once every value of the key's integer type
//! has been handed out (or passed, by an explicit insert of a larger key), it refuses:
//! [`AutoIncrement::try_next`], which the generated `get_next_pk()` calls, returns
//! [`WorkTableError::KeysExhausted`] naming the type. The refusal comes from the
//! generator, not from the insert, because a key handed out twice would not always fail
//! an insert: an `upsert` of it would silently replace the row that holds it.

use std::any::type_name;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::schema::PrimaryKeyGenerator;
use crate::{Table, TableSchema, WorkTableError};

/// An integer type an autoincrement key can count in.
pub trait CounterInt: Copy + Send + Sync + 'static {
    /// The integer for counter value `count`, or the type's maximum when it does not fit.
    fn from_counter(count: u64) -> Self;
    /// The integer for counter value `count`, or `None` when it does not fit.
    fn try_from_counter(count: u64) -> Option<Self>;
    /// The counter value of this integer; `None` for negative values and values past
    /// `u64::MAX`.
    fn to_counter(self) -> Option<u64>;
}

macro_rules! counter_int {
    ($($t:ty),*) => {$(
        impl CounterInt for $t {
            fn from_counter(count: u64) -> Self {
                <$t>::try_from(count).unwrap_or(<$t>::MAX)
            }
            fn try_from_counter(count: u64) -> Option<Self> {
                <$t>::try_from(count).ok()
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
/// never collides with one the user chose before. The counter is 64 bits wide: it counts
/// up to the type's maximum, or up to `u64::MAX` for `u128` and `i128` keys (explicit
/// keys past `u64::MAX` do not move it, and it never reaches them). Past that,
/// [`AutoIncrement::try_next`] refuses with [`WorkTableError::KeysExhausted`] (see the
/// [module docs](self)).
pub struct AutoIncrement<Pk, I> {
    /// The next count to hand out, unless `spent`.
    next: AtomicU64,
    /// Whether the count `u64::MAX` (which `next` cannot step past) has been handed out
    /// or observed.
    spent: AtomicBool,
    _key: PhantomData<fn() -> (Pk, I)>,
}

impl<Pk, I> Default for AutoIncrement<Pk, I> {
    fn default() -> Self {
        AutoIncrement {
            next: AtomicU64::new(0),
            spent: AtomicBool::new(false),
            _key: PhantomData,
        }
    }
}

impl<Pk, I: CounterInt> AutoIncrement<Pk, I> {
    /// Moves the counter past `value`, a key that was just inserted.
    pub fn observe(&self, value: I) {
        if let Some(count) = value.to_counter() {
            match count.checked_add(1) {
                Some(next) => {
                    self.next.fetch_max(next, Ordering::AcqRel);
                }
                None => {
                    self.next.store(u64::MAX, Ordering::Release);
                    self.spent.store(true, Ordering::Release);
                }
            }
        }
    }

    /// The next key, or [`WorkTableError::KeysExhausted`] once every key the counter
    /// can reach has been handed out or passed. Never the same key twice.
    pub fn try_next(&self) -> Result<Pk, WorkTableError>
    where
        Pk: From<I>,
    {
        let exhausted = || WorkTableError::KeysExhausted {
            key_type: type_name::<I>(),
        };
        let step = |count: u64| {
            I::try_from_counter(count)?;
            count.checked_add(1)
        };
        match self
            .next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, step)
        {
            Ok(count) => I::try_from_counter(count)
                .map(Pk::from)
                .ok_or_else(exhausted),
            // `next` stops at `u64::MAX`; that last count is handed out once.
            Err(u64::MAX) if !self.spent.swap(true, Ordering::AcqRel) => {
                I::try_from_counter(u64::MAX)
                    .map(Pk::from)
                    .ok_or_else(exhausted)
            }
            Err(_) => Err(exhausted()),
        }
    }
}

/// A fresh key from `table`'s generator, or why there is none: what the generated
/// `get_next_pk()` returns (see [`PrimaryKeyGenerator::try_next`]).
pub fn next_key<S>(table: &Table<S>) -> Result<S::Pk, WorkTableError>
where
    S: TableSchema,
    S::Generator: PrimaryKeyGenerator<S::Pk>,
{
    table.next_pk()
}

/// The infallible interface: once exhausted it keeps returning the type's maximum (a key
/// an insert then refuses as `AlreadyExists`). Tables use [`AutoIncrement::try_next`]
/// through [`PrimaryKeyGenerator::try_next`], which refuses instead.
impl<Pk: From<I>, I: CounterInt> PrimaryKeyGenerator<Pk> for AutoIncrement<Pk, I> {
    fn next(&self) -> Pk {
        self.try_next()
            .unwrap_or_else(|_| Pk::from(I::from_counter(u64::MAX)))
    }

    fn try_next(&self) -> Result<Pk, WorkTableError> {
        AutoIncrement::try_next(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exhausted(key_type: &'static str) -> Result<u8, WorkTableError> {
        Err(WorkTableError::KeysExhausted { key_type })
    }

    #[test]
    fn counts_from_zero_and_skips_observed_keys() {
        let generator = AutoIncrement::<u8, u8>::default();
        assert_eq!(generator.try_next(), Ok(0));
        assert_eq!(generator.try_next(), Ok(1));
        generator.observe(10);
        assert_eq!(generator.try_next(), Ok(11));
        generator.observe(5);
        assert_eq!(
            generator.try_next(),
            Ok(12),
            "observing a smaller key changes nothing"
        );
        let signed = AutoIncrement::<i32, i32>::default();
        signed.observe(-5);
        assert_eq!(
            signed.try_next(),
            Ok(0),
            "negative keys do not move the counter"
        );
    }

    #[test]
    fn every_key_once_then_exhausted() {
        let generator = AutoIncrement::<u8, u8>::default();
        for key in 0..=u8::MAX {
            assert_eq!(generator.try_next(), Ok(key));
        }
        assert_eq!(generator.try_next(), exhausted("u8"));
        assert_eq!(generator.try_next(), exhausted("u8"), "and it stays so");
        let observed = AutoIncrement::<u8, u8>::default();
        observed.observe(u8::MAX);
        assert_eq!(observed.try_next(), exhausted("u8"));
    }

    #[test]
    fn the_last_u64_key_is_handed_out_once() {
        let generator = AutoIncrement::<u64, u64>::default();
        generator.observe(u64::MAX - 2);
        assert_eq!(generator.try_next(), Ok(u64::MAX - 1));
        assert_eq!(generator.try_next(), Ok(u64::MAX));
        let refused = Err(WorkTableError::KeysExhausted { key_type: "u64" });
        assert_eq!(generator.try_next(), refused);
        let observed = AutoIncrement::<u64, u64>::default();
        observed.observe(u64::MAX);
        assert_eq!(observed.try_next(), refused);
        let wide = AutoIncrement::<u128, u128>::default();
        wide.observe(u128::MAX);
        assert_eq!(
            wide.try_next(),
            Ok(0),
            "keys past the counter do not move it"
        );
    }

    #[test]
    fn the_infallible_next_saturates() {
        let generator = AutoIncrement::<u8, u8>::default();
        generator.observe(254);
        assert_eq!(generator.next(), 255);
        assert_eq!(generator.next(), 255);
        assert_eq!(PrimaryKeyGenerator::try_next(&generator), exhausted("u8"));
    }

    #[test]
    fn racing_callers_never_share_a_key() {
        let generator = std::sync::Arc::new(AutoIncrement::<u16, u16>::default());
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let generator = std::sync::Arc::clone(&generator);
                std::thread::spawn(move || {
                    std::iter::from_fn(|| generator.try_next().ok()).collect::<Vec<u16>>()
                })
            })
            .collect();
        let mut keys: Vec<u16> = callers
            .into_iter()
            .flat_map(|caller| caller.join().expect("caller"))
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..=u16::MAX).collect::<Vec<_>>());
    }
}
