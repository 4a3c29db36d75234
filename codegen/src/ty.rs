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

/// Why a row could never hold a value of `ty`, with the part of `ty` at fault: a
/// borrowed, unsized or opaque type, here or inside a tuple, array or generic argument.
/// Other types that rkyv cannot store (a type of the user's without its derives) are
/// found by the compiler, through the generated `StorableColumn` bound.
pub fn not_storable(ty: &Type) -> Option<(&Type, &'static str)> {
    let reason = match ty {
        Type::Reference(_) => {
            "a row owns its values, and this is a reference; store an owned type: `String` \
             for `&str`, `Vec<T>` for `&[T]`, `T` or `Box<T>` for `&T`"
        }
        Type::Ptr(_) => "a raw pointer cannot be stored; store the value it points to",
        Type::Slice(_) => "a slice is unsized; store a `Vec<T>` instead",
        Type::TraitObject(_) | Type::ImplTrait(_) => {
            "a trait object or `impl Trait` has no single stored form; store a concrete \
             type (e.g. an enum of the possible values)"
        }
        Type::BareFn(_) => "a function pointer cannot be stored",
        Type::Never(_) | Type::Infer(_) => "write the column's concrete type",
        Type::Paren(inner) => return not_storable(&inner.elem),
        Type::Group(inner) => return not_storable(&inner.elem),
        Type::Array(array) => return not_storable(&array.elem),
        Type::Tuple(tuple) => return tuple.elems.iter().find_map(not_storable),
        Type::Path(_) if is_named(ty, &["std", "core"], "primitive", "str") => {
            "`str` is unsized; store a `String` instead"
        }
        Type::Path(path) => {
            let arguments =
                path.path
                    .segments
                    .iter()
                    .filter_map(|segment| match &segment.arguments {
                        PathArguments::AngleBracketed(args) => Some(&args.args),
                        _ => None,
                    });
            return arguments.flatten().find_map(|argument| match argument {
                GenericArgument::Type(inner) => not_storable(inner),
                _ => None,
            });
        }
        _ => return None,
    };
    Some((ty, reason))
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
    fn borrowed_and_unsized_types_cannot_be_stored() {
        for (source, at_fault) in [
            ("&'static str", "& 'static str"),
            ("Option<&'static [u8]>", "& 'static [u8]"),
            ("(u8, &'static str)", "& 'static str"),
            ("[&'static str; 2]", "& 'static str"),
            ("Vec<Box<str>>", "str"),
            ("*const u8", "* const u8"),
            ("Box<dyn Fn()>", "dyn Fn ()"),
            ("fn(u8) -> u8", "fn (u8) -> u8"),
            ("std::primitive::str", "std :: primitive :: str"),
        ] {
            let ty = ty(source);
            let (part, _) = not_storable(&ty).unwrap_or_else(|| panic!("{source} is refused"));
            assert_eq!(quote::quote!(#part).to_string(), at_fault, "{source}");
        }
        for source in [
            "u64",
            "String",
            "Option<Vec<u8>>",
            "(u8, String)",
            "[u8; 4]",
            "my::Str",
        ] {
            assert!(
                not_storable(&ty(source)).is_none(),
                "{source} may be storable"
            );
        }
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
