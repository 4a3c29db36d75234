//! Checks the `columns` section: names, flags, and the primary key they make.

use std::collections::{HashMap, HashSet};

use syn::Ident;
use syn::ext::IdentExt;

use super::{all_of, one_of};
use crate::ast::{Braced, ColumnDecl};
use crate::ctxt::Ctxt;
use crate::model::{Column, Generator, PrimaryKey};
use crate::ty;

/// The flags a column may carry.
const FLAGS: [&str; 4] = ["primary_key", "autoincrement", "custom", "optional"];

/// The columns and the primary key they declare.
pub struct Checked {
    /// The columns in declaration order.
    pub columns: Vec<Column>,
    /// The key; its column list is empty only when an error was reported.
    pub primary_key: PrimaryKey,
}

/// The flags of one column, each with the token that set it.
#[derive(Default)]
struct Flags {
    primary_key: Option<Ident>,
    autoincrement: Option<Ident>,
    custom: Option<Ident>,
    optional: Option<Ident>,
}

/// Checks the columns declared in `columns` (the section named by `key`).
pub fn check(cx: &Ctxt, key: &Ident, columns: &Braced<ColumnDecl>) -> Option<Checked> {
    if columns.items.is_empty() {
        cx.error_at(
            columns.brace.span.join(),
            "`columns` is empty; declare at least the key column, e.g. `id: u64 primary_key`",
        );
        return None;
    }
    let mut checked = Vec::with_capacity(columns.items.len());
    let mut flags = Vec::with_capacity(columns.items.len());
    let mut seen_names = HashSet::new();
    let mut seen_variants: HashMap<String, &Ident> = HashMap::new();
    for decl in &columns.items {
        let plain_name = decl.name.unraw().to_string();
        let variant = variant_name(&plain_name, checked.len());
        if !seen_names.insert(plain_name.clone()) {
            cx.error_spanned_by(
                &decl.name,
                format!("duplicate column `{plain_name}`; give each column its own name"),
            );
            // Checked for its own mistakes, but left out: later checks see each name once.
            check_flags(cx, decl);
            continue;
        }
        if let Some(other) = seen_variants.insert(variant.clone(), &decl.name) {
            cx.error_spanned_by(
                &decl.name,
                format!(
                    "columns `{}` and `{plain_name}` would both be `{variant}` in the column \
                     enum; rename one of them",
                    other.unraw()
                ),
            );
        }
        if let Some((part, reason)) = ty::not_storable(&decl.ty) {
            cx.error_spanned_by(
                part,
                format!("column `{plain_name}` cannot be stored: {reason}"),
            );
        }
        let column_flags = check_flags(cx, decl);
        checked.push(Column {
            // `variant_name` returns a valid identifier, so `Ident::new` cannot panic.
            variant: Ident::new(&variant, decl.name.span()),
            name: decl.name.clone(),
            plain_name,
            ty: decl.ty.clone(),
            optional: column_flags.optional.is_some(),
        });
        flags.push(column_flags);
    }

    let key_columns: Vec<usize> = (0..flags.len())
        .filter(|&i| flags[i].primary_key.is_some())
        .collect();
    if key_columns.is_empty() {
        cx.error_spanned_by(
            key,
            "no column is marked `primary_key`; mark the key column, e.g. `id: u64 primary_key`",
        );
    }
    let generator = check_generator(cx, &checked, &flags, &key_columns);
    Some(Checked {
        columns: checked,
        primary_key: PrimaryKey {
            columns: key_columns,
            generator,
        },
    })
}

/// Reads and checks the flags of one column.
fn check_flags(cx: &Ctxt, decl: &ColumnDecl) -> Flags {
    let mut flags = Flags::default();
    for flag in &decl.flags {
        let name = flag.unraw().to_string();
        let slot = match name.as_str() {
            "primary_key" => &mut flags.primary_key,
            "autoincrement" => &mut flags.autoincrement,
            "custom" => &mut flags.custom,
            "optional" => &mut flags.optional,
            _ => {
                let column = decl.name.unraw();
                let hint = if ["unique", "index", "indexed"].contains(&name.as_str()) {
                    format!(
                        " (to index the column, declare `indexes: {{ {column}_idx: {column}{} }}`)",
                        if name == "unique" { " unique" } else { "" }
                    )
                } else {
                    String::new()
                };
                cx.error_spanned_by(
                    flag,
                    format!(
                        "unknown column flag `{name}`; expected {}{hint}",
                        one_of(FLAGS)
                    ),
                );
                continue;
            }
        };
        if slot.is_some() {
            cx.error_spanned_by(flag, format!("flag `{name}` is given twice; write it once"));
            continue;
        }
        *slot = Some(flag.clone());
        if flags.autoincrement.is_some() && flags.custom.is_some() {
            cx.error_spanned_by(
                flag,
                "`autoincrement` and `custom` both choose how keys are made; keep only one of them",
            );
        }
    }

    let makes_keys = [&flags.autoincrement, &flags.custom];
    for flag in makes_keys.into_iter().flatten() {
        if flags.primary_key.is_none() {
            cx.error_spanned_by(
                flag,
                format!(
                    "`{flag}` makes keys for the primary key; add `primary_key` to this column \
                     or remove `{flag}`"
                ),
            );
        }
    }
    if flags.autoincrement.is_some() && !ty::is_integer(&decl.ty) {
        cx.error_spanned_by(
            &decl.ty,
            format!(
                "`autoincrement` needs an integer key type ({}), written by name; \
                 use one of them, or make the key `custom` and implement its generator",
                ty::INTEGERS.join(", ")
            ),
        );
    }
    if let Some(optional) = &flags.optional {
        if flags.primary_key.is_some() {
            cx.error_spanned_by(
                optional,
                "a primary-key column cannot be `optional`: every row needs a key; \
                 remove `optional`",
            );
        } else if let Some(inner) = ty::option_inner(&decl.ty) {
            let inner = quote::quote!(#inner).to_string();
            cx.error_spanned_by(
                optional,
                format!(
                    "`optional` wraps the type in `Option`, and this type already is one; \
                     write `{}: {inner} optional`, or drop `optional`",
                    decl.name.unraw()
                ),
            );
        }
    }
    flags
}

/// The key generator, checking it suits the key's columns.
fn check_generator(
    cx: &Ctxt,
    columns: &[Column],
    flags: &[Flags],
    key_columns: &[usize],
) -> Generator {
    if let [key] = key_columns {
        let flags = &flags[*key];
        return match (&flags.autoincrement, &flags.custom) {
            (Some(_), _) => Generator::AutoIncrement,
            (None, Some(custom)) => Generator::Custom {
                span: custom.span(),
            },
            (None, None) => Generator::None,
        };
    }
    if key_columns.len() > 1 {
        let names = all_of(key_columns.iter().map(|&i| columns[i].plain_name.as_str()));
        let key_flags = key_columns.iter().map(|&i| &flags[i]);
        for flag in key_flags
            .flat_map(|f| [&f.autoincrement, &f.custom])
            .flatten()
        {
            cx.error_spanned_by(
                flag,
                format!(
                    "`{flag}` needs a single primary-key column, but this key has {} ({names}); \
                     remove `{flag}` (a composite key has no generator: each row brings its key)",
                    key_columns.len()
                ),
            );
        }
    }
    Generator::None
}

/// The column enum variant for column `name` (the `index`th): `another_col` →
/// `AnotherCol`. A result that would not start with a letter gets the prefix `Column`;
/// one that is still no usable identifier (`Self`) becomes `Column<index>`. The result
/// is always a valid identifier.
pub fn variant_name(name: &str, index: usize) -> String {
    let mut variant = String::with_capacity(name.len());
    for part in name.split('_').filter(|part| !part.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            variant.extend(first.to_uppercase());
            variant.push_str(chars.as_str());
        }
    }
    if !variant.starts_with(char::is_alphabetic) {
        variant.insert_str(0, "Column");
    }
    // `Self` is the one capitalised keyword; anything else unusable falls back too.
    if variant == "Self" || syn::parse_str::<Ident>(&variant).is_err() {
        variant = format!("Column{index}");
    }
    variant
}

/// The snake_case form of an UpperCamelCase name, for method names made from query
/// names: `AnotherByExchange` → `another_by_exchange`.
///
/// A word starts at an uppercase letter that follows a lowercase letter or a digit, and
/// at the last capital of a run that goes on in lowercase, so an acronym stays one word
/// (`ByABC` → `by_abc`, `HTTPServerById` → `http_server_by_id`). Digits stay with what
/// precedes them (`Level2ById` → `level2_by_id`). Underscores already in the name
/// separate words too; none is doubled, leading or trailing.
pub fn snake_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        let starts_word = c.is_uppercase()
            && i > 0
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_numeric()
                || (chars[i - 1].is_uppercase()
                    && chars.get(i + 1).is_some_and(|next| next.is_lowercase())));
        if c == '_' || starts_word {
            if !snake.is_empty() && !snake.ends_with('_') {
                snake.push('_');
            }
            if c == '_' {
                continue;
            }
        }
        snake.extend(c.to_lowercase());
    }
    if snake.ends_with('_') {
        snake.pop();
    }
    snake
}
