//! The objects of one P4Info kind (tables, actions, counters, ...): by id, and by name or alias.

use std::collections::HashMap;

/// Objects of one kind, by id, with their ids by fully qualified name and by alias.
///
/// A name always refers to the object of that name; an alias that is also some object's
/// name refers to that object, and an alias shared by several objects to the first of them.
/// A repeated id keeps the last object with it.
#[derive(Debug, Clone)]
pub struct Entities<T> {
    by_id: HashMap<u32, T>,
    by_name: HashMap<String, u32>,
}

impl<T> Default for Entities<T> {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            by_name: HashMap::new(),
        }
    }
}

impl<T> Entities<T> {
    /// Adds an object with its id, name and alias (empty when it has none).
    pub(crate) fn insert(&mut self, id: u32, name: &str, alias: &str, object: T) {
        if !alias.is_empty() && alias != name {
            self.by_name.entry(alias.to_string()).or_insert(id);
        }
        self.by_name.insert(name.to_string(), id);
        self.by_id.insert(id, object);
    }

    /// The object with this id.
    pub fn get(&self, id: u32) -> Option<&T> {
        self.by_id.get(&id)
    }

    /// The object with this fully qualified name or alias.
    pub fn named(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).and_then(|id| self.by_id.get(id))
    }

    /// Whether an object has this id.
    pub fn contains(&self, id: u32) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The ids, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_id.keys().copied()
    }

    /// The objects, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.by_id.values()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_win_over_aliases_and_the_first_alias_wins() {
        let mut e = Entities::default();
        e.insert(1, "A.x", "x", "first");
        e.insert(2, "B.x", "x", "second");
        e.insert(3, "y", "", "third");
        e.insert(4, "C.y", "y", "fourth");
        assert_eq!(e.named("x"), Some(&"first"));
        assert_eq!(e.named("B.x"), Some(&"second"));
        assert_eq!(e.named("y"), Some(&"third"));
        assert_eq!(e.get(4), Some(&"fourth"));
        assert!(e.named("z").is_none());
        assert_eq!(e.len(), 4);
    }
}
