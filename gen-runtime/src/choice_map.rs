//! Choice maps (addresses to values) and selections (sets of addresses).

use crate::address::{Address, IntoAddress, Part};
use crate::value::{ChoiceData, ChoiceValue};
use std::collections::BTreeMap;
use std::fmt;

/// A map from addresses to values: constraints for `generate` and `update`, the choices of
/// a trace, the output of `propose`.
///
/// Ordered by address, so printing and iteration are deterministic and a sub-map (all the
/// choices under one prefix) is a contiguous range.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChoiceMap {
    entries: BTreeMap<Address, ChoiceValue>,
}

impl ChoiceMap {
    /// An empty choice map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value at `addr`, replacing any previous value.
    pub fn insert(&mut self, addr: impl IntoAddress, value: impl Into<ChoiceValue>) -> &mut Self {
        self.entries.insert(addr.into_address(), value.into());
        self
    }

    /// The value at `addr`.
    #[must_use]
    pub fn get(&self, addr: &Address) -> Option<&ChoiceValue> {
        self.entries.get(addr)
    }

    /// The value at `addr` given in any address form.
    #[must_use]
    pub fn value(&self, addr: impl IntoAddress) -> Option<&ChoiceValue> {
        self.entries.get(&addr.into_address())
    }

    /// The continuous scalar at `addr`.
    #[must_use]
    pub fn get_f64(&self, addr: impl IntoAddress) -> Option<f64> {
        self.value(addr).and_then(ChoiceValue::as_f64)
    }

    /// The value at `addr` as the type a distribution stores (`bool` for a Bernoulli, `usize`
    /// for a categorical, `u64` for a count, `f64`, `Vec<f64>`): `choices.get_as::<bool>(("z",
    /// 3))`. `None` if there is no value there or it is of another kind.
    #[must_use]
    pub fn get_as<T: ChoiceData>(&self, addr: impl IntoAddress) -> Option<T> {
        self.value(addr).and_then(T::from_value)
    }

    /// Whether there is a value at `addr`.
    #[must_use]
    pub fn contains(&self, addr: &Address) -> bool {
        self.entries.contains_key(addr)
    }

    /// Removes and returns the value at `addr`.
    pub fn remove(&mut self, addr: &Address) -> Option<ChoiceValue> {
        self.entries.remove(addr)
    }

    /// The number of choices.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no choices.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The choices in address order.
    pub fn iter(&self) -> impl Iterator<Item = (&Address, &ChoiceValue)> {
        self.entries.iter()
    }

    /// The addresses in order.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.entries.keys()
    }

    /// The choices under `prefix`, with the prefix removed (Gen.jl's `get_submap`).
    #[must_use]
    pub fn submap(&self, prefix: &Address) -> ChoiceMap {
        let entries = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(a, _)| a.starts_with(prefix))
            .map(|(a, v)| (Address(a.0[prefix.0.len()..].to_vec()), v.clone()))
            .collect();
        ChoiceMap { entries }
    }

    /// Adds every choice of `other` under `prefix`.
    pub fn insert_submap(&mut self, prefix: &Address, other: ChoiceMap) {
        for (a, v) in other.entries {
            let mut parts = prefix.0.clone();
            parts.extend(a.0);
            self.entries.insert(Address(parts), v);
        }
    }

    /// Adds every choice of `other`, which wins where both have a value.
    pub fn merge(&mut self, other: &ChoiceMap) {
        for (a, v) in &other.entries {
            self.entries.insert(a.clone(), v.clone());
        }
    }
}

/// An indented address tree, as Gen.jl displays a choice map: one line per part, a choice's
/// value after ` : `, the choices made under a part (a call at `"sub"`, a `Map`'s element
/// `3`) indented beneath it. Parts print as [`Part`]'s `Display` does, the way an address is
/// written in Rust (`("theta", 2)`), and siblings come in address order.
///
/// ```text
/// ├── a : 1.0
/// ├── ("theta", 0) : -0.5
/// ├── ys : [0.1, 0.2, 0.3, …, 0.8, 0.9, 1.0] (50 values)
/// └── sub
///     ├── p : 0.25
///     └── flip : true
/// ```
///
/// Long vectors are abbreviated (see [`ChoiceValue`]'s `Display`); `{:#}` prints them whole,
/// and a precision (`{:.3}`) applies to every real. There is no trailing newline.
impl fmt::Display for ChoiceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("(no choices)");
        }
        let mut entries: Vec<(&[Part], &ChoiceValue)> = self.entries.iter().map(|(a, v)| (a.parts(), v)).collect();
        let mut first = true;
        // Only the root address has no parts, and it sorts first.
        if let Some(&([], v)) = entries.first() {
            f.write_str(if entries.len() == 1 { "└── " } else { "├── " })?;
            write!(f, "{} : ", Address::root())?;
            fmt::Display::fmt(v, f)?;
            entries.remove(0);
            first = false;
        }
        write_level(f, &entries, &mut String::new(), &mut first)
    }
}

/// Writes one level of the tree: `entries` are sorted and non-empty paths relative to the
/// level, `indent` the bars and spaces of the levels above.
fn write_level(f: &mut fmt::Formatter<'_>, entries: &[(&[Part], &ChoiceValue)], indent: &mut String, first: &mut bool) -> fmt::Result {
    let mut rest = entries;
    while let Some(((parts, _), _)) = rest.split_first() {
        let head = &parts[0];
        let n = rest.iter().take_while(|(p, _)| p[0] == *head).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        if !std::mem::take(first) {
            f.write_str("\n")?;
        }
        let last = rest.is_empty();
        write!(f, "{indent}{}{head}", if last { "└── " } else { "├── " })?;
        // The group sorts the value at `head` itself (a one-part path) before its subtree.
        let children = match group[0] {
            (p, v) if p.len() == 1 => {
                f.write_str(" : ")?;
                fmt::Display::fmt(v, f)?;
                &group[1..]
            }
            _ => group,
        };
        if !children.is_empty() {
            let children: Vec<_> = children.iter().map(|(p, v)| (&p[1..], *v)).collect();
            let len = indent.len();
            indent.push_str(if last { "    " } else { "│   " });
            write_level(f, &children, indent, first)?;
            indent.truncate(len);
        }
    }
    Ok(())
}

impl<A: IntoAddress, V: Into<ChoiceValue>> FromIterator<(A, V)> for ChoiceMap {
    fn from_iter<I: IntoIterator<Item = (A, V)>>(iter: I) -> Self {
        let mut m = ChoiceMap::new();
        for (a, v) in iter {
            m.insert(a, v);
        }
        m
    }
}

/// A set of addresses: which choices an MCMC move or a gradient acts on.
///
/// Selecting an address selects its whole subtree, as in Gen.jl: `"sub"` selects `"sub/a"`,
/// and a name selects that name with any indices, so `select!["theta"]` selects
/// `("theta", j)` for every j (see [`Address::is_under`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// Every address.
    All,
    /// These addresses and everything under them.
    Addresses(Vec<Address>),
    /// Every address the inner selection does not select.
    Complement(Box<Selection>),
}

impl Selection {
    /// Selects nothing.
    #[must_use]
    pub fn none() -> Self {
        Selection::Addresses(Vec::new())
    }

    /// Selects the given addresses.
    #[must_use]
    pub fn of<A: IntoAddress>(addrs: impl IntoIterator<Item = A>) -> Self {
        Selection::Addresses(addrs.into_iter().map(IntoAddress::into_address).collect())
    }

    /// Every address this selection does not select.
    #[must_use]
    pub fn complement(self) -> Self {
        match self {
            Selection::Complement(inner) => *inner,
            other => Selection::Complement(Box::new(other)),
        }
    }

    /// Whether `addr` is selected.
    #[must_use]
    pub fn contains(&self, addr: &Address) -> bool {
        match self {
            Selection::All => true,
            Selection::Addresses(list) => list.iter().any(|p| addr.is_under(p)),
            Selection::Complement(inner) => !inner.contains(addr),
        }
    }

    /// Whether nothing can be selected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        matches!(self, Selection::Addresses(list) if list.is_empty())
    }
}

/// Builds a [`ChoiceMap`]: `choicemap!{"a" => 1.0, ("y", 3) => 2.0, ["sub", "x"] => true}`.
///
/// A key is anything that converts to an address: a name, a `(name, index)` tuple, or a
/// hierarchical address (`addr!["sub", ("theta", 2)]`, or an array of parts of one type).
#[macro_export]
macro_rules! choicemap {
    () => { $crate::ChoiceMap::new() };
    ($($addr:expr => $value:expr),+ $(,)?) => {{
        let mut map = $crate::ChoiceMap::new();
        $( map.insert($addr, $value); )+
        map
    }};
}

/// Builds a [`Selection`]: `select!["a", ("y", 3), ["sub", "x"]]`.
#[macro_export]
macro_rules! select {
    () => { $crate::Selection::none() };
    ($($addr:expr),+ $(,)?) => {
        $crate::Selection::Addresses(vec![$($crate::IntoAddress::into_address($addr)),+])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_as_reads_a_value_as_its_stored_type_and_refuses_another_kind() {
        let map = choicemap! { ("z", 3) => true, "k" => 4u64, "x" => 0.5, "w" => vec![0.2, 0.8] };
        assert_eq!(map.get_as::<bool>(("z", 3)), Some(true));
        assert_eq!(map.get_as::<u64>("k"), Some(4));
        assert_eq!(map.get_as::<f64>("x"), Some(0.5));
        assert_eq!(map.get_as::<Vec<f64>>("w"), Some(vec![0.2, 0.8]));
        assert_eq!(map.get_as::<bool>("x"), None);
        assert_eq!(map.get_as::<bool>(("z", 4)), None);
    }
    use crate::addr;

    #[test]
    fn a_nested_map_displays_as_an_address_tree() {
        let long: Vec<f64> = (0..50).map(|i| f64::from(i) / 10.0).collect();
        let m = choicemap! {
            "a" => 1.0,
            ("theta", 0) => -0.5,
            ("theta", 1) => 2.0,
            addr!["sub", "p"] => 0.25,
            addr!["sub", "flip"] => true,
            addr!["sub", ("k", 2)] => 3usize,
            addr![0, "y"] => vec![0.5, 1.5],
            addr![1, "y"] => long,
        };
        let want = "\
├── a : 1.0
├── sub
│   ├── flip : true
│   ├── p : 0.25
│   └── (\"k\", 2) : 3
├── (\"theta\", 0) : -0.5
├── (\"theta\", 1) : 2.0
├── 0
│   └── y : [0.5, 1.5]
└── 1
    └── y : [0.0, 0.1, 0.2, …, 4.7, 4.8, 4.9] (50 values)";
        assert_eq!(m.to_string(), want, "\n{m}");
    }

    #[test]
    fn deeper_levels_keep_the_bars_of_unfinished_ancestors() {
        let m = choicemap! {
            addr!["outer", "inner", "x"] => 1.0,
            addr!["outer", "inner", "y"] => 2u64,
            addr!["outer", "z"] => false,
            "w" => 3.0,
        };
        let want = "\
├── outer
│   ├── inner
│   │   ├── x : 1.0
│   │   └── y : 2
│   └── z : false
└── w : 3.0";
        assert_eq!(m.to_string(), want, "\n{m}");
    }

    #[test]
    fn a_part_with_a_value_and_a_subtree_shows_both() {
        let m = choicemap! { "a" => 1.0, addr!["a", "b"] => 2.0 };
        assert_eq!(m.to_string(), "└── a : 1.0\n    └── b : 2.0");
        let m = choicemap! { Address::root() => 1.0, "x" => 2.0 };
        assert_eq!(m.to_string(), "├── <root> : 1.0\n└── x : 2.0");
        assert_eq!(ChoiceMap::new().to_string(), "(no choices)");
    }

    #[test]
    fn precision_and_the_alternate_form_reach_the_values() {
        let long: Vec<f64> = (0..12).map(f64::from).collect();
        let m = choicemap! { "a" => 1.0 / 3.0, "n" => 7usize, "v" => long };
        assert_eq!(format!("{m:.2}"), "├── a : 0.33\n├── n : 7\n└── v : [0.00, 1.00, 2.00, …, 9.00, 10.00, 11.00] (12 values)");
        assert_eq!(
            format!("{m:#}"),
            "├── a : 0.3333333333333333\n├── n : 7\n└── v : [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]"
        );
    }
}
