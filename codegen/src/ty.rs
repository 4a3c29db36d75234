//! What the checks and generation need to know of a column type, read from its syntax.
//!
//! A proc macro sees tokens, not types: `u64` is recognised by its name (also written as
//! `std::primitive::u64`), and an alias such as `type Id = u64;` is not. The checks that
//! use these say so in their messages.

use syn::{GenericArgument, Path, PathArguments, Type};

/// The integer types an `autoincrement` key may have.
pub const INTEGERS: [&str; 12] = [
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// Whether `ty` names one of [`INTEGERS`].
pub fn is_integer(ty: &Type) -> bool {
    INTEGERS
        .iter()
        .any(|name| is_named(ty, &["std", "core"], "primitive", name))
}

/// Whether `ty` is `f32`/`f64`, or an `Option` of one.
pub fn is_float_or_optional_float(ty: &Type) -> bool {
    let ty = option_inner(ty).unwrap_or(ty);
    ["f32", "f64"]
        .iter()
        .any(|name| is_named(ty, &["std", "core"], "primitive", name))
}

/// Whether `ty` is exactly `String` (or `std::string::String`).
pub fn is_string(ty: &Type) -> bool {
    is_named(ty, &["std", "alloc"], "string", "String")
}

/// `T` when `ty` is `Option<T>` (or `std::option::Option<T>`).
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let path = type_path(ty)?;
    if !has_prefix(path, &["std", "core"], "option") {
        return None;
    }
    let last = path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// The path of a plain path type, looking through parentheses and invisible groups.
fn type_path(ty: &Type) -> Option<&Path> {
    match ty {
        Type::Path(path) if path.qself.is_none() => Some(&path.path),
        Type::Paren(inner) => type_path(&inner.elem),
        Type::Group(inner) => type_path(&inner.elem),
        _ => None,
    }
}

/// Whether `ty` is the argument-less type `name`, written bare or as
/// `<crate>::<module>::name` for one of `crates`.
fn is_named(ty: &Type, crates: &[&str], module: &str, name: &str) -> bool {
    type_path(ty).is_some_and(|path| {
        path.segments
            .last()
            .is_some_and(|last| last.ident == name && last.arguments.is_none())
            && has_prefix(path, crates, module)
    })
}

/// Whether the segments before the last are nothing (with no leading `::`) or
/// `<crate>::<module>` for one of `crates`.
fn has_prefix(path: &Path, crates: &[&str], module: &str) -> bool {
    let prefix: Vec<_> = path.segments.iter().rev().skip(1).collect();
    match prefix.as_slice() {
        [] => path.leading_colon.is_none(),
        [module_segment, crate_segment] => {
            module_segment.ident == module
                && crates.iter().any(|name| crate_segment.ident == name)
                && module_segment.arguments.is_none()
                && crate_segment.arguments.is_none()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(source: &str) -> Type {
        syn::parse_str(source).expect("a type")
    }

    #[test]
    fn integers_are_recognised_by_name() {
        for name in INTEGERS {
            assert!(is_integer(&ty(name)), "{name}");
        }
        assert!(is_integer(&ty("std::primitive::u8")));
        assert!(is_integer(&ty("::core::primitive::i128")));
        assert!(!is_integer(&ty("f64")));
        assert!(!is_integer(&ty("Option<u64>")));
        assert!(!is_integer(&ty("my::u64")));
        assert!(!is_integer(&ty("::u64")));
    }

    #[test]
    fn floats_and_optional_floats() {
        assert!(is_float_or_optional_float(&ty("f32")));
        assert!(is_float_or_optional_float(&ty("f64")));
        assert!(is_float_or_optional_float(&ty("Option<f64>")));
        assert!(is_float_or_optional_float(&ty(
            "std::option::Option<core::primitive::f32>"
        )));
        assert!(!is_float_or_optional_float(&ty("Vec<f64>")));
        assert!(!is_float_or_optional_float(&ty("u64")));
    }

    #[test]
    fn strings_and_options() {
        assert!(is_string(&ty("String")));
        assert!(is_string(&ty("std::string::String")));
        assert!(!is_string(&ty("Option<String>")));
        assert!(!is_string(&ty("str")));
        assert!(option_inner(&ty("Option<u8>")).is_some());
        assert!(option_inner(&ty("core::option::Option<u8>")).is_some());
        assert!(option_inner(&ty("Option")).is_none());
        assert!(option_inner(&ty("my::Option<u8>")).is_none());
    }
}
