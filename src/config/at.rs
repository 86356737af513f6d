//! [`At`]: a value and where it was written, the unit every layer is made of.
//!
//! Reading keeps each value's position so that every later step (merging,
//! validation of the merged result) can point at the file, line and column
//! that set it. This is the bottom of the configuration's modules: it knows
//! positions and nothing else.

use std::collections::BTreeMap;

use super::error::Pos;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> At<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> At<U> {
        At { value: f(self.value), pos: self.pos }
    }
}

/// A table's entries, each with the position of its value.
pub(crate) type Entries<T> = BTreeMap<String, At<T>>;
