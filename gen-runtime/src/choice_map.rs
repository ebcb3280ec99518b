//! Choice maps (addresses to values) and selections (sets of addresses).

use crate::address::{Address, IntoAddress};
use crate::value::ChoiceValue;
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

impl fmt::Display for ChoiceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (a, v) in &self.entries {
            writeln!(f, "{a} => {v}")?;
        }
        Ok(())
    }
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
/// A key is anything that converts to an address: a name, a `(name, index)` tuple, or an
/// array of parts for a hierarchical address.
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
