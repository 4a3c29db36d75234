//! Checks the `config` section against the limits the runtime enforces, so a table
//! built from a declaration that compiled never fails on its configuration.

use syn::ext::IdentExt;
use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

use super::one_of;
use crate::ast::{Braced, ConfigEntry};
use crate::ctxt::Ctxt;
use crate::model::Config;

/// The keys `config` accepts.
const KEYS: [&str; 3] = ["page_size", "shards", "feed_capacity"];
/// Page sizes are multiples of the row alignment (`worktable_pages::ROW_ALIGN`).
const PAGE_ALIGN: i128 = 16;
/// The smallest page size (`worktable_pages::MIN_PAGE_SIZE`).
const MIN_PAGE_SIZE: i128 = 256;
/// The largest page size, 1 GiB (`worktable_pages::MAX_PAGE_SIZE`).
const MAX_PAGE_SIZE: i128 = 1 << 30;
/// The most shards a table may run (`TableConfig::shard_count`).
const MAX_SHARDS: i128 = 1024;
/// The largest change-feed buffer, in operations: `u32::MAX`, so the value is a `usize`
/// on every target.
const MAX_FEED_CAPACITY: i128 = u32::MAX as i128;

/// Checks the `config` entries.
pub fn check(cx: &Ctxt, entries: &Braced<ConfigEntry>) -> Config {
    let mut config = Config::default();
    let mut seen = Vec::new();
    for entry in &entries.items {
        let key = entry.key.unraw().to_string();
        if seen.contains(&key) {
            cx.error_spanned_by(&entry.key, format!("`{key}` is given twice; write it once"));
            continue;
        }
        match key.as_str() {
            "page_size" => config.page_size = page_size(cx, &entry.value),
            "shards" => config.shards = shards(cx, &entry.value),
            "feed_capacity" => config.feed_capacity = feed_capacity(cx, &entry.value),
            _ => {
                cx.error_spanned_by(
                    &entry.key,
                    format!("unknown config key `{key}`; expected {}", one_of(KEYS)),
                );
                continue;
            }
        }
        seen.push(key);
    }
    config
}

/// A checked `page_size`, or `None` after reporting why not.
fn page_size(cx: &Ctxt, value: &Expr) -> Option<u32> {
    let (size, written) = integer(cx, value, "page_size", "page_size: 16384")?;
    if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size) {
        cx.error_spanned_by(
            value,
            format!(
                "`page_size` must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE} (1 GiB) bytes, \
                 not {written}"
            ),
        );
        return None;
    }
    if size % PAGE_ALIGN != 0 {
        let below = size - size % PAGE_ALIGN;
        cx.error_spanned_by(
            value,
            format!(
                "`page_size` must be a multiple of {PAGE_ALIGN}; write {below} or {}",
                below + PAGE_ALIGN
            ),
        );
        return None;
    }
    u32::try_from(size).ok()
}

/// A checked `shards`, or `None` after reporting why not.
fn shards(cx: &Ctxt, value: &Expr) -> Option<u16> {
    let (shards, written) = integer(cx, value, "shards", "shards: 4")?;
    if !(1..=MAX_SHARDS).contains(&shards) {
        cx.error_spanned_by(
            value,
            format!("`shards` must be between 1 and {MAX_SHARDS}, not {written}"),
        );
        return None;
    }
    u16::try_from(shards).ok()
}

/// A checked `feed_capacity`, or `None` after reporting why not.
fn feed_capacity(cx: &Ctxt, value: &Expr) -> Option<u32> {
    let (capacity, written) = integer(cx, value, "feed_capacity", "feed_capacity: 1024")?;
    if !(1..=MAX_FEED_CAPACITY).contains(&capacity) {
        cx.error_spanned_by(
            value,
            format!(
                "`feed_capacity` is how many operations each subscription buffers, so it \
                 must be between 1 and {MAX_FEED_CAPACITY}, not {written}"
            ),
        );
        return None;
    }
    u32::try_from(capacity).ok()
}

/// The value of an integer literal (possibly negated) and its digits as written, or
/// `None` after reporting that `key` needs one (as in `example`). A literal too large for
/// `i128` reads as `i128::MAX`: it is out of every range all the same.
fn integer(cx: &Ctxt, value: &Expr, key: &str, example: &str) -> Option<(i128, String)> {
    let (literal, negative) = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(literal),
            ..
        }) => (literal, false),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(literal),
                ..
            }) => (literal, true),
            _ => return not_integer(cx, value, key, example),
        },
        _ => return not_integer(cx, value, key, example),
    };
    let magnitude = literal.base10_parse::<i128>().unwrap_or(i128::MAX);
    let sign = if negative { "-" } else { "" };
    let written = format!("{sign}{}", literal.base10_digits());
    Some((if negative { -magnitude } else { magnitude }, written))
}

fn not_integer<T>(cx: &Ctxt, value: &Expr, key: &str, example: &str) -> Option<T> {
    cx.error_spanned_by(
        value,
        format!("`{key}` must be an integer literal, e.g. `{example}`"),
    );
    None
}
