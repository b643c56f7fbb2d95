//! Which kinds a command works on: `--kind` / `--exclude-kind` and `butterfly.toml`'s
//! `exclude_kinds`, with opt-in kinds (user factors) only when asked for.

use std::collections::BTreeSet;

use crate::catalogue::Catalogue;

/// What the user chose.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these kinds (empty: every kind).
    pub kinds: Vec<String>,
    pub exclude: Vec<String>,
    /// Opt-in kinds too (`--with-user-kinds`); naming one in `kinds` also selects it.
    pub with_opt_in: bool,
}

/// A kind name nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a kind; `butterfly catalogue` lists them")]
pub struct UnknownKind {
    pub name: String,
}

impl Selection {
    /// The chosen kinds.
    pub fn resolve(&self, catalogue: &Catalogue) -> Result<BTreeSet<String>, UnknownKind> {
        for name in self.kinds.iter().chain(&self.exclude) {
            if catalogue.kind(name).is_none() {
                return Err(UnknownKind { name: name.clone() });
            }
        }
        let chosen: BTreeSet<String> = if self.kinds.is_empty() {
            catalogue
                .kinds()
                .iter()
                .filter(|k| k.opt_in.is_none() || self.with_opt_in)
                .map(|k| k.name.clone())
                .collect()
        } else {
            self.kinds.iter().cloned().collect()
        };
        Ok(chosen
            .into_iter()
            .filter(|k| !self.exclude.contains(k))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_in_kinds_only_when_asked() {
        let catalogue = Catalogue::okta().unwrap();
        let all = Selection::default().resolve(catalogue).unwrap();
        assert!(all.contains("group") && !all.contains("user_factor"));
        let with = Selection {
            with_opt_in: true,
            ..Selection::default()
        };
        assert!(with.resolve(catalogue).unwrap().contains("user_factor"));
        let named = Selection {
            kinds: vec!["user_factor".into()],
            ..Selection::default()
        };
        assert_eq!(named.resolve(catalogue).unwrap().len(), 1);
        let excluded = Selection {
            exclude: vec!["group".into()],
            ..Selection::default()
        };
        assert!(!excluded.resolve(catalogue).unwrap().contains("group"));
        let unknown = Selection {
            kinds: vec!["gruop".into()],
            ..Selection::default()
        };
        assert!(
            unknown
                .resolve(catalogue)
                .unwrap_err()
                .to_string()
                .contains("\"gruop\"")
        );
    }
}
