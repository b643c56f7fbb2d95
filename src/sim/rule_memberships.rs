//! Who holds each group membership of the simulated org: an admin (an API write or the
//! fixture), one or more group rules, or both. Okta removes a membership when the rules that
//! made it stop matching, but never one an admin made; this is the record that tells them apart.
//!
//! Plain bookkeeping: it does not create or remove membership objects (`sim::group_rules`
//! does), and knows nothing of HTTP.

use std::collections::{BTreeSet, HashMap};

/// The kind whose objects are group memberships.
pub const KIND: &str = "group_membership";

/// A membership: (group id, user id).
pub type Membership = (String, String);

#[derive(Debug, Default, Clone)]
struct Holders {
    admin: bool,
    rules: BTreeSet<String>,
}

/// The holders of every membership a rule or an admin made, by group then user (looked up by
/// `&str`, with no allocation: rule evaluation asks for every user and rule).
#[derive(Debug, Default, Clone)]
pub struct RuleMemberships {
    holders: HashMap<String, HashMap<String, Holders>>,
}

impl RuleMemberships {
    /// An admin added the membership (it stays whatever rules do).
    pub fn hold_by_admin(&mut self, group: &str, user: &str) {
        self.entry(group, user).admin = true;
    }

    /// `rule` holds the membership.
    pub fn hold_by_rule(&mut self, group: &str, user: &str, rule: &str) {
        self.entry(group, user).rules.insert(rule.to_string());
    }

    /// True when `rule` holds the membership.
    pub fn held_by_rule(&self, group: &str, user: &str, rule: &str) -> bool {
        self.holders
            .get(group)
            .and_then(|users| users.get(user))
            .is_some_and(|h| h.rules.contains(rule))
    }

    /// `rule` lets go of the membership; true when nothing holds it any more (so it goes).
    pub fn release_by_rule(&mut self, group: &str, user: &str, rule: &str) -> bool {
        let Some(users) = self.holders.get_mut(group) else {
            return false;
        };
        let Some(holders) = users.get_mut(user) else {
            return false;
        };
        if !holders.rules.remove(rule) {
            return false;
        }
        let free = !holders.admin && holders.rules.is_empty();
        if free {
            self.forget(group, user);
        }
        free
    }

    /// The membership is gone (an admin removed it, or its group or user was deleted).
    pub fn forget(&mut self, group: &str, user: &str) {
        if let Some(users) = self.holders.get_mut(group) {
            users.remove(user);
            if users.is_empty() {
                self.holders.remove(group);
            }
        }
    }

    /// Every membership `rule` holds, sorted.
    pub fn held_by(&self, rule: &str) -> Vec<Membership> {
        let mut held: Vec<Membership> = self
            .holders
            .iter()
            .flat_map(|(group, users)| {
                users
                    .iter()
                    .filter(|(_, h)| h.rules.contains(rule))
                    .map(move |(user, _)| (group.clone(), user.clone()))
            })
            .collect();
        held.sort();
        held
    }

    /// A deleted rule's memberships that stay (`removeUsers` not set) become static ones.
    pub fn make_static(&mut self, rule: &str) {
        for holders in self
            .holders
            .values_mut()
            .flat_map(|users| users.values_mut())
        {
            if holders.rules.remove(rule) {
                holders.admin = true;
            }
        }
    }

    /// A fixture cannot say who made a membership: one an active rule implies is the rule's.
    pub fn settle_fixture(&mut self) {
        for holders in self
            .holders
            .values_mut()
            .flat_map(|users| users.values_mut())
        {
            if !holders.rules.is_empty() {
                holders.admin = false;
            }
        }
    }

    fn entry(&mut self, group: &str, user: &str) -> &mut Holders {
        self.holders
            .entry(group.to_string())
            .or_default()
            .entry(user.to_string())
            .or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_goes_only_when_nothing_holds_it() {
        let mut m = RuleMemberships::default();
        m.hold_by_rule("g", "u", "r1");
        m.hold_by_rule("g", "u", "r2");
        assert!(!m.release_by_rule("g", "u", "r1"), "r2 still holds it");
        assert!(m.release_by_rule("g", "u", "r2"));
        m.hold_by_admin("g", "v");
        m.hold_by_rule("g", "v", "r1");
        assert!(!m.release_by_rule("g", "v", "r1"), "the admin's stays");
        assert!(!m.release_by_rule("g", "w", "r1"), "never held");
    }

    #[test]
    fn fixture_memberships_a_rule_implies_are_the_rules() {
        let mut m = RuleMemberships::default();
        m.hold_by_admin("g", "u");
        m.hold_by_rule("g", "u", "r");
        m.hold_by_admin("g", "v");
        m.settle_fixture();
        assert!(m.release_by_rule("g", "u", "r"));
        assert_eq!(m.held_by("r"), Vec::<Membership>::new());
        m.hold_by_rule("g", "v", "r");
        m.make_static("r");
        assert!(!m.held_by_rule("g", "v", "r"));
    }
}
