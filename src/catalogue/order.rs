//! The reference graph between kinds and the restore order it yields (NOTES.md §2.1):
//! a kind is restored after its parent, after every kind it references (weak references
//! excepted) and after the kinds named in its `after` list. Deletes run in reverse.
//!
//! Pure: it reads kinds and returns names.

use std::collections::{BTreeMap, BTreeSet};

use super::kind::Kind;

/// Why one kind must come before another.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Because {
    Parent,
    Reference(String),
    After,
}

/// The dependency edges: `dependent → [(dependency, why)]`.
pub fn dependencies(kinds: &[Kind]) -> BTreeMap<&str, Vec<(&str, Because)>> {
    let mut edges: BTreeMap<&str, Vec<(&str, Because)>> = BTreeMap::new();
    for kind in kinds {
        let entry = edges.entry(kind.name.as_str()).or_default();
        for parent in kind.parents() {
            entry.push((parent, Because::Parent));
        }
        for reference in &kind.references {
            if !reference.weak && reference.kind != kind.name {
                entry.push((
                    reference.kind.as_str(),
                    Because::Reference(reference.path.to_string()),
                ));
            }
        }
        for after in &kind.after {
            entry.push((after.as_str(), Because::After));
        }
        entry.sort();
        entry.dedup_by(|a, b| a.0 == b.0);
    }
    edges
}

/// A cycle in the graph, as the kinds along it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the kinds' references form a cycle: {}", .0.join(" → "))]
pub struct CycleError(pub Vec<String>);

/// Kinds in the order a restore creates them: each after everything it depends on, ties
/// broken by name so the order is stable.
pub fn restore_order(kinds: &[Kind]) -> Result<Vec<String>, CycleError> {
    let edges = dependencies(kinds);
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = edges
        .iter()
        .map(|(kind, deps)| (*kind, deps.iter().map(|(d, _)| *d).collect()))
        .collect();
    let mut order = Vec::new();
    while !remaining.is_empty() {
        let ready: Option<&str> = remaining
            .iter()
            .find(|(_, deps)| deps.is_empty())
            .map(|(kind, _)| *kind);
        let Some(next) = ready else {
            return Err(CycleError(find_cycle(&remaining)));
        };
        remaining.remove(next);
        for deps in remaining.values_mut() {
            deps.remove(next);
        }
        order.push(next.to_string());
    }
    Ok(order)
}

/// The order a restore deletes in: the reverse of [`restore_order`].
pub fn delete_order(kinds: &[Kind]) -> Result<Vec<String>, CycleError> {
    let mut order = restore_order(kinds)?;
    order.reverse();
    Ok(order)
}

fn find_cycle(remaining: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    // Every remaining node has a remaining dependency: walk until a node repeats.
    let Some(mut current) = remaining.keys().next().copied() else {
        return Vec::new();
    };
    let mut path: Vec<&str> = Vec::new();
    loop {
        if let Some(at) = path.iter().position(|k| *k == current) {
            let mut cycle: Vec<String> = path[at..].iter().map(|k| k.to_string()).collect();
            cycle.push(current.to_string());
            return cycle;
        }
        path.push(current);
        match remaining.get(current).and_then(|deps| deps.iter().next()) {
            Some(next) => current = next,
            None => return path.iter().map(|k| k.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::catalogue::Catalogue;

    fn files(kinds: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut files = vec![(
            "schemas/t/_provider.toml".to_string(),
            "provider = \"t\"\ntitle = \"t\"\n[[buckets]]\nname = \"b\"\nper_minute = 1\nabout = \"\"\n[requested_scopes]\nabout = \"\"\nmanage = []\nextra = []\n"
                .to_string(),
        )];
        for (name, extra) in kinds {
            files.push((
                format!("schemas/t/{name}.toml"),
                format!(
                    "kind = \"{name}\"\ntitle = \"\"\nabout = \"\"\nid = \"id\"\nfile = \"{name}/{{id}}\"\nscopes = {{ read = \"okta.x.read\" }}\nbucket = \"b\"\n{extra}\n[endpoints]\nlist = \"GET /{name}\"\n"
                ),
            ));
        }
        files
    }

    #[test]
    fn references_order_kinds_and_weak_ones_do_not() {
        let catalogue = Catalogue::from_files(
            "t",
            &files(&[
                ("rule", "[[references]]\npath = \"g\"\nkind = \"group\"\n"),
                (
                    "group",
                    "[[references]]\npath = \"r\"\nkind = \"rule\"\nweak = true\n",
                ),
                ("zone", ""),
            ]),
        )
        .unwrap();
        assert_eq!(
            catalogue.restore_order().unwrap(),
            vec!["group", "rule", "zone"]
        );
    }

    #[test]
    fn a_cycle_is_named() {
        let catalogue = Catalogue::from_files(
            "t",
            &files(&[
                ("a", "after = [\"b\"]\n"),
                ("b", "[[references]]\npath = \"x\"\nkind = \"a\"\n"),
            ]),
        )
        .unwrap();
        let error = catalogue.restore_order().unwrap_err().to_string();
        assert!(
            error.contains("a → b → a") || error.contains("b → a → b"),
            "{error}"
        );
    }
}
