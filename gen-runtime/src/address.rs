//! Addresses of random choices.
//!
//! An address is a path of [`Part`]s: `"a"`, `("y", 3)`, or `addr!["sub", "a"]` for a choice
//! made inside a call at `"sub"` (Gen.jl writes `:sub => :a`). Combinators address their
//! children by index: `Map` puts element `i`'s choices under `Part::Index(i)`, so
//! `addr![3, "y"]` is choice `"y"` of element 3.
//!
//! Two ways to write a nested address, both accepted wherever an address is
//! ([`IntoAddress`]: `choicemap!`, `select!`, [`ChoiceMap::insert`](crate::ChoiceMap::insert),
//! `Posterior::get`):
//!
//! ```
//! use gen_runtime::prelude::*;
//! use gen_runtime::Part;
//!
//! let a = addr!["sub", ("theta", 2), "x"];
//! // `/` extends an address (or a part) by one part:
//! assert_eq!(a, Address::root() / "sub" / ("theta", 2) / "x");
//! assert_eq!(a, Part::from("sub") / ("theta", 2) / "x");
//! // Pieces may themselves be addresses, spliced in order:
//! let prefix = addr!["sub", ("theta", 2)];
//! assert_eq!(a, addr![&prefix, "x"]);
//! assert_eq!(a.to_string(), r#"sub/("theta", 2)/x"#);
//! ```
//!
//! Names need not be literals: a `String` names a part as a `&'static str` does, alone or
//! with indices, so addresses built at run time (`(format!("group_{k}"), i)`) work too.
//!
//! Each part also has a 64-bit hash ([`Part::key`]). `#[gen]` computes the hash of a literal
//! address at compile time. The fast paths compare hashes against a precomputed plan instead
//! of looking addresses up in a map, and the random stream of a choice is keyed by its hash.

use crate::rng::mix64;
use std::borrow::Cow;
use std::fmt;
use std::ops::Div;

/// One component of an address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// A name: `"a"`.
    Name(Cow<'static, str>),
    /// A name with indices: `("y", 3)` or `("w", i, j)`.
    Indexed(Cow<'static, str>, Box<[i64]>),
    /// A bare index, used by combinators for their i-th child.
    Index(i64),
}

/// FNV-1a over a string, usable in constants so that `#[gen]` hashes literal addresses at
/// compile time.
#[must_use]
pub const fn name_key(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    mix64(h)
}

/// The hash of a name with indices, extending the name's hash.
#[inline]
#[must_use]
pub fn indexed_key(name_key: u64, idx: &[i64]) -> u64 {
    idx.iter().fold(name_key, |h, &i| mix64(h ^ mix64(i as u64 ^ 0x1f83_d9ab_fb41_bd6b)))
}

/// The hash of a bare index.
#[inline]
#[must_use]
pub fn index_key(i: i64) -> u64 {
    mix64(i as u64 ^ 0x6a09_e667_f3bc_c909)
}

impl Part {
    /// A name: `Part::name("a")`, or `Part::name(format!("group_{k}"))` for one built at run
    /// time.
    #[must_use]
    pub fn name(name: impl Into<Cow<'static, str>>) -> Self {
        Part::Name(name.into())
    }

    /// A name with indices: `Part::indexed("w", [1, 2])` is `("w", 1, 2)`.
    #[must_use]
    pub fn indexed(name: impl Into<Cow<'static, str>>, indices: impl Into<Box<[i64]>>) -> Self {
        Part::Indexed(name.into(), indices.into())
    }

    /// The part's hash (see the module documentation).
    #[must_use]
    pub fn key(&self) -> u64 {
        match self {
            Part::Name(n) => name_key(n),
            Part::Indexed(n, idx) => indexed_key(name_key(n), idx),
            Part::Index(i) => index_key(*i),
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Name(n) => write!(f, "{n}"),
            Part::Indexed(n, idx) => {
                write!(f, "({n:?}")?;
                for i in idx.iter() {
                    write!(f, ", {i}")?;
                }
                write!(f, ")")
            }
            Part::Index(i) => write!(f, "{i}"),
        }
    }
}

impl From<&'static str> for Part {
    fn from(s: &'static str) -> Self {
        Part::Name(Cow::Borrowed(s))
    }
}

impl From<String> for Part {
    fn from(s: String) -> Self {
        Part::Name(Cow::Owned(s))
    }
}

impl From<&String> for Part {
    fn from(s: &String) -> Self {
        Part::Name(Cow::Owned(s.clone()))
    }
}

impl From<Cow<'static, str>> for Part {
    fn from(s: Cow<'static, str>) -> Self {
        Part::Name(s)
    }
}

/// A type that names a part: a literal (borrowed, no allocation), or a name built at run
/// time (owned). A `&str` that is not `'static` is named through `.to_string()`.
trait IntoName {
    fn into_name(self) -> Cow<'static, str>;
}

impl IntoName for &'static str {
    fn into_name(self) -> Cow<'static, str> {
        Cow::Borrowed(self)
    }
}

impl IntoName for String {
    fn into_name(self) -> Cow<'static, str> {
        Cow::Owned(self)
    }
}

impl IntoName for &String {
    fn into_name(self) -> Cow<'static, str> {
        Cow::Owned(self.clone())
    }
}

impl IntoName for Cow<'static, str> {
    fn into_name(self) -> Cow<'static, str> {
        self
    }
}

/// `(name, i)` and `(name, i, j)` for every name type and index type.
macro_rules! indexed_from {
    ($name:ty: $($t:ty),*) => {$(
        impl From<($name, $t)> for Part {
            fn from((n, i): ($name, $t)) -> Self {
                Part::Indexed(n.into_name(), Box::new([i as i64]))
            }
        }
        impl From<($name, $t, $t)> for Part {
            fn from((n, i, j): ($name, $t, $t)) -> Self {
                Part::Indexed(n.into_name(), Box::new([i as i64, j as i64]))
            }
        }
    )*};
}
indexed_from!(&'static str: usize, i64, i32, u32, u64);
indexed_from!(String: usize, i64, i32, u32, u64);
indexed_from!(&String: usize, i64, i32, u32, u64);
indexed_from!(Cow<'static, str>: usize, i64, i32, u32, u64);

macro_rules! index_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Part {
            fn from(i: $t) -> Self {
                Part::Index(i as i64)
            }
        }
    )*};
}
index_from!(usize, i64, i32, u32, u64);

/// A full address: the path from the top-level generative function to a choice.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub Vec<Part>);

impl Address {
    /// The empty address (the root).
    #[must_use]
    pub const fn root() -> Self {
        Address(Vec::new())
    }

    /// This address extended by one part.
    #[must_use]
    pub fn join(&self, part: Part) -> Address {
        let mut parts = self.0.clone();
        parts.push(part);
        Address(parts)
    }

    /// Whether `self` starts with `prefix`, part by part.
    #[must_use]
    pub fn starts_with(&self, prefix: &Address) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// Whether `self` lies in the subtree that `prefix` names, as a selection reads it
    /// (Gen.jl's `select(:theta)` selects `:theta => j` for every j): `self` starts with
    /// `prefix`, where a name also covers that name with indices, and a name with indices
    /// also covers it with more indices. So `"theta"` covers `("theta", 3)` and
    /// `("theta", 3)/"x"`; `("w", 1)` covers `("w", 1, 2)`.
    #[must_use]
    pub fn is_under(&self, prefix: &Address) -> bool {
        let (Some((last, init)), true) = (prefix.0.split_last(), self.0.len() >= prefix.0.len()) else {
            return prefix.0.is_empty();
        };
        if self.0[..init.len()] != *init {
            return false;
        }
        match (last, &self.0[init.len()]) {
            (a, b) if a == b => true,
            (Part::Name(n), Part::Indexed(m, _)) => n == m,
            (Part::Indexed(n, i), Part::Indexed(m, j)) => n == m && j.starts_with(i),
            _ => false,
        }
    }

    /// The parts.
    #[must_use]
    pub fn parts(&self) -> &[Part] {
        &self.0
    }
}

/// `address / part`: the address extended by one part, as [`Address::join`].
impl<P: Into<Part>> Div<P> for Address {
    type Output = Address;

    fn div(mut self, part: P) -> Address {
        self.0.push(part.into());
        self
    }
}

/// `&address / part`: a new address, `address` extended by one part.
impl<P: Into<Part>> Div<P> for &Address {
    type Output = Address;

    fn div(self, part: P) -> Address {
        self.join(part.into())
    }
}

/// `part / part`: the two-part address. `"sub" / "a"` cannot be written (Rust has no `/`
/// between two `&str`), so start from a [`Part`] or use [`addr!`](crate::addr).
impl<P: Into<Part>> Div<P> for Part {
    type Output = Address;

    fn div(self, part: P) -> Address {
        Address(vec![self, part.into()])
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "<root>");
        }
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "/")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Anything that names an address: a [`Part`], something convertible to one, a path of
/// parts, or an [`Address`].
pub trait IntoAddress {
    /// The address.
    fn into_address(self) -> Address;
}

impl IntoAddress for Address {
    fn into_address(self) -> Address {
        self
    }
}

impl IntoAddress for &Address {
    fn into_address(self) -> Address {
        self.clone()
    }
}

impl<P: Into<Part>> IntoAddress for P {
    fn into_address(self) -> Address {
        Address(vec![self.into()])
    }
}

impl<P: Into<Part> + Clone, const K: usize> IntoAddress for [P; K] {
    fn into_address(self) -> Address {
        Address(self.into_iter().map(Into::into).collect())
    }
}

impl IntoAddress for Vec<Part> {
    fn into_address(self) -> Address {
        Address(self)
    }
}

/// Builds an [`Address`] from pieces of mixed types: `addr!["sub", ("theta", 2), "x"]`,
/// `addr![3, "y"]` (choice `"y"` of a `Map`'s element 3).
///
/// Each piece is anything [`IntoAddress`] accepts: a name (`&'static str` or `String`), a
/// `(name, index..)` tuple, a bare index, a [`Part`], or an [`Address`] (or `&Address`),
/// whose parts are spliced in place. `addr![]` is the root.
///
/// ```
/// use gen_runtime::prelude::*;
///
/// let k = 4;
/// let a = addr![format!("group_{k}"), ("theta", 2)];
/// let constraints = choicemap! { addr![&a, "x"] => 1.5 };
/// assert_eq!(constraints.get_f64(a / "x"), Some(1.5));
/// ```
#[macro_export]
macro_rules! addr {
    () => { $crate::Address::root() };
    ($($piece:expr),+ $(,)?) => {{
        let mut parts = ::std::vec::Vec::new();
        $( parts.extend($crate::IntoAddress::into_address($piece).0); )+
        $crate::Address(parts)
    }};
}

/// The address of one trace site as `#[gen]` emits it: the hash is precomputed for literal
/// names, and the owned [`Part`] is only built by the paths that need it.
#[derive(Clone, Copy, Debug)]
pub struct Site<'a> {
    /// The part's hash ([`Part::key`]).
    pub key: u64,
    /// The part, unbuilt.
    pub part: SitePart<'a>,
}

/// The unbuilt form of a [`Part`].
#[derive(Clone, Copy, Debug)]
pub enum SitePart<'a> {
    /// A literal name.
    Name(&'static str),
    /// A literal name with runtime indices.
    Indexed(&'static str, &'a [i64]),
    /// A bare index.
    Index(i64),
    /// Any other part, computed at run time.
    Dynamic(&'a Part),
}

impl<'a> Site<'a> {
    /// A literal name whose hash `key` was computed by [`name_key`].
    #[inline]
    #[must_use]
    pub const fn name(name: &'static str, key: u64) -> Self {
        Site { key, part: SitePart::Name(name) }
    }

    /// A literal name with indices; `name_key` is the name's precomputed hash.
    #[inline]
    #[must_use]
    pub fn indexed(name: &'static str, name_key: u64, idx: &'a [i64]) -> Self {
        Site { key: indexed_key(name_key, idx), part: SitePart::Indexed(name, idx) }
    }

    /// A bare index.
    #[inline]
    #[must_use]
    pub fn index(i: i64) -> Self {
        Site { key: index_key(i), part: SitePart::Index(i) }
    }

    /// Any part computed at run time.
    #[must_use]
    pub fn dynamic(part: &'a Part) -> Self {
        Site { key: part.key(), part: SitePart::Dynamic(part) }
    }

    /// The owned part.
    #[must_use]
    pub fn to_part(&self) -> Part {
        match self.part {
            SitePart::Name(n) => Part::Name(Cow::Borrowed(n)),
            SitePart::Indexed(n, idx) => Part::Indexed(Cow::Borrowed(n), idx.into()),
            SitePart::Index(i) => Part::Index(i),
            SitePart::Dynamic(p) => p.clone(),
        }
    }
}

impl fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_part().fmt(f)
    }
}

/// The hash of a full address from its parent's hash and its last part's hash: the key of
/// a choice's random stream and the identity the fast paths compare.
#[inline]
#[must_use]
pub const fn chain_key(parent: u64, part_key: u64) -> u64 {
    mix64(parent.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ part_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_keys_agree_with_part_keys() {
        let idx = [3i64];
        assert_eq!(Site::indexed("y", name_key("y"), &idx).key, Part::from(("y", 3usize)).key());
        assert_eq!(Site::name("a", name_key("a")).key, Part::from("a").key());
        assert_eq!(Site::index(4).key, Part::from(4usize).key());
        assert_ne!(Part::from(("y", 3usize)).key(), Part::from(("y", 4usize)).key());
    }

    #[test]
    fn a_name_covers_its_indexed_forms_and_their_subtrees() {
        let theta = "theta".into_address();
        let theta3 = ("theta", 3usize).into_address();
        assert!(theta3.is_under(&theta));
        assert!(theta3.join("x".into()).is_under(&theta));
        assert!(theta3.is_under(&theta3));
        assert!(!theta.is_under(&theta3));
        assert!(!("thetas", 3usize).into_address().is_under(&theta));
        assert!(!"t".into_address().is_under(&theta));
        assert!(("w", 1usize, 2usize).into_address().is_under(&("w", 1usize).into_address()));
        assert!(!("w", 2usize, 1usize).into_address().is_under(&("w", 1usize).into_address()));
        assert!(theta.is_under(&Address::root()));
        assert!(!Address::root().is_under(&theta));
    }

    #[test]
    fn addr_joins_pieces_of_mixed_types() {
        let by_parts = Address(vec![Part::from("sub"), Part::from(("theta", 2usize)), Part::from("x")]);
        assert_eq!(crate::addr!["sub", ("theta", 2), "x"], by_parts);
        assert_eq!(crate::addr![Part::from("sub"), ("theta", 2usize), String::from("x")], by_parts);
        assert_eq!(crate::addr![3, "y"], Address(vec![Part::Index(3), Part::from("y")]));
        // Addresses and arrays of parts splice in place.
        let prefix = crate::addr!["sub", ("theta", 2)];
        assert_eq!(crate::addr![&prefix, "x"], by_parts);
        assert_eq!(crate::addr![prefix.clone(), ["x"]], by_parts);
        assert_eq!(crate::addr![], Address::root());
        assert_eq!(crate::addr!["a",], "a".into_address());
    }

    #[test]
    fn slash_extends_an_address_or_a_part() {
        let by_parts = Address(vec![Part::from("sub"), Part::from(("theta", 2usize)), Part::from("x")]);
        assert_eq!(Address::root() / "sub" / ("theta", 2) / "x", by_parts);
        assert_eq!(Part::from("sub") / ("theta", 2) / "x", by_parts);
        let prefix = Part::from("sub") / ("theta", 2);
        assert_eq!(&prefix / "x", by_parts);
        assert_eq!(prefix.join("x".into()), by_parts);
    }

    #[test]
    fn names_built_at_run_time_equal_literal_names_and_hash_alike() {
        let k = 3;
        let name = format!("group_{k}");
        assert_eq!(Part::from(name.clone()), Part::from("group_3"));
        assert_eq!(Part::from(&name), Part::from("group_3"));
        assert_eq!(Part::from((name.clone(), 2usize)), Part::from(("group_3", 2usize)));
        assert_eq!(Part::from((&name, 2i64, 5i64)), Part::from(("group_3", 2usize, 5usize)));
        assert_eq!(Part::from((Cow::<'static, str>::Owned(name.clone()), 2u32)), Part::from(("group_3", 2u32)));
        assert_eq!(Part::indexed(name.clone(), [2, 5]), Part::from(("group_3", 2, 5)));
        assert_eq!(Part::name(name.clone()), Part::from("group_3"));
        assert_eq!(Part::from((name, 2usize)).key(), Site::indexed("group_3", name_key("group_3"), &[2]).key);
    }

    #[test]
    fn addresses_display_as_paths() {
        let a = Address::root().join("sub".into()).join(("y", 2usize).into());
        assert_eq!(a.to_string(), "sub/(\"y\", 2)");
    }
}
