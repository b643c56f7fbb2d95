//! `rules lint`: every JSON path a rule reads must be a field of its kind in Okta's response
//! schema (the catalogue's field index, derived from Okta's OpenAPI spec), or one of the kind's
//! declared derived fields (`_derived.<name>`). So a misspelled field (`settings.pasword`, or
//! `settings.oie.session` on a policy, as one public scanner reads) fails CI, not a report.
//!
//! How: a walk that follows what each expression stands for — `resource` is the rule's kind at
//! the root; `parent` its parent kinds; `tree.<kind>` and the helpers give resources of a kind;
//! a macro over an array binds its elements — and checks each member read against the index.

use std::collections::BTreeMap;
use std::fmt;

use super::expr::{Expr, MacroKind, Node};
use super::rule::{Rule, Scope};
use super::tree::{Returns, helper};
use crate::catalogue::{Catalogue, DERIVED_MEMBER, FieldPath, Segment};

/// One path a rule reads that its kind does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintProblem {
    pub rule: String,
    pub file: String,
    /// The rule's field (`assert`, `let.vm`, `evidence`).
    pub field: String,
    /// The line of that field in the rule file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LintProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} `{}`: {}",
            self.file, self.line, self.rule, self.field, self.message
        )
    }
}

/// What an expression stands for, as far as paths go.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    /// A value inside resources of one of these kinds, at this path.
    At {
        kinds: Vec<String>,
        path: Vec<Segment>,
    },
    /// A list of such values.
    List(Box<Shape>),
    Tree,
    Params,
    Unknown,
}

/// Checks every rule; returns every problem.
pub fn lint(catalogue: &Catalogue, rules: &[Rule]) -> Vec<LintProblem> {
    let mut out = Vec::new();
    for rule in rules {
        out.extend(lint_rule(catalogue, rule));
    }
    out
}

pub fn lint_rule(catalogue: &Catalogue, rule: &Rule) -> Vec<LintProblem> {
    let mut linter = Linter {
        catalogue,
        rule,
        problems: Vec::new(),
        field: String::new(),
        line: 0,
    };
    let mut scope: Vec<(String, Shape)> = vec![
        ("params".into(), Shape::Params),
        ("tree".into(), Shape::Tree),
    ];
    if rule.scope == Scope::Resource {
        scope.push(("resource".into(), root(std::slice::from_ref(&rule.kind))));
        scope.push(("parent".into(), root(&rule.parent_kinds)));
    }
    // Lets may read each other: give each the shape of its expression, in dependency order
    // (at most as many passes as there are lets).
    let mut lets: BTreeMap<String, Shape> = BTreeMap::new();
    for _ in 0..=rule.lets.len() {
        let mut quiet = Linter {
            catalogue,
            rule,
            problems: Vec::new(),
            field: String::new(),
            line: 0,
        };
        for (name, source) in &rule.lets {
            let mut with = scope.clone();
            with.extend(lets.iter().map(|(n, s)| (n.clone(), s.clone())));
            let shape = quiet.walk(&source.value, &mut with);
            lets.insert(name.clone(), shape);
        }
    }
    scope.extend(lets);
    for (name, source) in &rule.lets {
        linter.field = source.field.clone();
        linter.line = source.line;
        let _ = name;
        linter.walk(&source.value, &mut scope.clone());
    }
    let mut sources = Vec::new();
    if let Some(select) = &rule.select {
        sources.push(select);
    }
    sources.push(&rule.assert);
    if let Some(from) = &rule.evidence_from {
        sources.push(from);
    }
    for source in sources {
        linter.field = source.field.clone();
        linter.line = source.line;
        linter.walk(&source.value, &mut scope.clone());
    }
    linter.field = "message".into();
    linter.line = rule.message_line;
    for part in &rule.message {
        if let super::expr::Part::Hole(hole) = part {
            linter.walk(hole, &mut scope.clone());
        }
    }
    linter.field = "evidence".into();
    let evidence_kinds = match rule.scope {
        Scope::Resource => vec![rule.kind.clone()],
        Scope::Org => match rule
            .evidence_from
            .as_ref()
            .map(|f| linter_shape(catalogue, rule, &f.value, &scope))
        {
            Some(Shape::List(inner)) => match *inner {
                Shape::At { kinds, .. } => kinds,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        },
    };
    if !rule.evidence.is_empty() && evidence_kinds.is_empty() {
        linter.problem(
            "evidence paths need a `resource` rule or an `evidence_from` listing resources".into(),
        );
    }
    for path in &rule.evidence {
        if !evidence_kinds.is_empty() && !linter.known(&evidence_kinds, path.segments()) {
            linter.problem(format!(
                "`{path}` is not a field of {}",
                evidence_kinds.join(" or ")
            ));
        }
    }
    linter.problems
}

fn linter_shape(
    catalogue: &Catalogue,
    rule: &Rule,
    expr: &Expr,
    scope: &[(String, Shape)],
) -> Shape {
    let mut quiet = Linter {
        catalogue,
        rule,
        problems: Vec::new(),
        field: String::new(),
        line: 0,
    };
    quiet.walk(expr, &mut scope.to_vec())
}

fn root(kinds: &[String]) -> Shape {
    if kinds.is_empty() {
        Shape::Unknown
    } else {
        Shape::At {
            kinds: kinds.to_vec(),
            path: Vec::new(),
        }
    }
}

struct Linter<'c> {
    catalogue: &'c Catalogue,
    rule: &'c Rule,
    problems: Vec<LintProblem>,
    field: String,
    line: usize,
}

impl Linter<'_> {
    fn problem(&mut self, message: String) {
        let problem = LintProblem {
            rule: self.rule.id.clone(),
            file: self.rule.source.clone(),
            field: self.field.clone(),
            line: self.line,
            message,
        };
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// True when `path` is a response field of one of `kinds`, or a declared derived field.
    fn known(&self, kinds: &[String], path: &[Segment]) -> bool {
        kinds.iter().any(|kind| {
            if let Some(Segment::Key(first)) = path.first()
                && first == DERIVED_MEMBER
            {
                return match path.get(1) {
                    None => true,
                    Some(Segment::Key(name)) => self
                        .catalogue
                        .kind(kind)
                        .is_some_and(|k| k.derived.iter().any(|d| &d.name == name)),
                    Some(_) => false,
                };
            }
            self.catalogue.fields(kind).is_some_and(|index| {
                index.has_response_field(&FieldPath::from_segments(path.to_vec()))
            })
        })
    }

    fn member(&mut self, shape: Shape, name: &str, expr: &Expr) -> Shape {
        match shape {
            Shape::At { kinds, mut path } => {
                path.push(Segment::Key(name.to_string()));
                if !self.known(&kinds, &path) {
                    let field = FieldPath::from_segments(path.clone());
                    self.problem(format!(
                        "`{expr}` reads `{field}`, which is not a field of {} in Okta's schema",
                        kinds.join(" or ")
                    ));
                    return Shape::Unknown;
                }
                Shape::At { kinds, path }
            }
            Shape::Tree => match self.catalogue.kind(name) {
                Some(_) => Shape::List(Box::new(root(&[name.to_string()]))),
                None => Shape::Unknown,
            },
            _ => Shape::Unknown,
        }
    }

    /// The shape of one element of a list-like shape.
    fn element(shape: &Shape) -> Shape {
        match shape {
            Shape::List(inner) => (**inner).clone(),
            Shape::At { kinds, path } => {
                let mut path = path.clone();
                path.push(Segment::Each);
                Shape::At {
                    kinds: kinds.clone(),
                    path,
                }
            }
            _ => Shape::Unknown,
        }
    }

    fn walk(&mut self, expr: &Expr, scope: &mut Vec<(String, Shape)>) -> Shape {
        match &expr.node {
            Node::Ident(name) => scope
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map_or(Shape::Unknown, |(_, s)| s.clone()),
            Node::Member(target, name) => {
                let shape = self.walk(target, scope);
                self.member(shape, name, expr)
            }
            Node::Index(target, index) => {
                let shape = self.walk(target, scope);
                self.walk(index, scope);
                match (&index.node, &shape) {
                    (Node::Str(key), _) => self.member(shape, key, expr),
                    (Node::Int(_), _) | (_, Shape::List(_)) => Self::element(&shape),
                    // A member named at run time: nothing to check statically.
                    _ => Shape::Unknown,
                }
            }
            Node::Has(inner) => {
                self.walk(inner, scope);
                Shape::Unknown
            }
            Node::Macro {
                kind,
                target,
                var,
                body,
            } => {
                let shape = self.walk(target, scope);
                scope.push((var.clone(), Self::element(&shape)));
                let body_shape = self.walk(body, scope);
                scope.pop();
                match kind {
                    MacroKind::Filter => match shape {
                        Shape::At { .. } => Shape::List(Box::new(Self::element(&shape))),
                        other => other,
                    },
                    MacroKind::Map => Shape::List(Box::new(body_shape)),
                    _ => Shape::Unknown,
                }
            }
            Node::Call { name, target, args } => {
                if let Some(target) = target {
                    self.walk(target, scope);
                }
                for arg in args {
                    self.walk(arg, scope);
                }
                match helper(name).map(|h| h.returns) {
                    Some(Returns::Resource(kind)) if target.is_none() => root(&[kind.to_string()]),
                    Some(Returns::Resources(kind)) if target.is_none() => {
                        Shape::List(Box::new(root(&[kind.to_string()])))
                    }
                    _ => Shape::Unknown,
                }
            }
            Node::Cond(c, a, b) => {
                self.walk(c, scope);
                let left = self.walk(a, scope);
                let right = self.walk(b, scope);
                if left == right { left } else { Shape::Unknown }
            }
            Node::List(items) => {
                for item in items {
                    self.walk(item, scope);
                }
                Shape::Unknown
            }
            Node::Not(inner) | Node::Neg(inner) => {
                self.walk(inner, scope);
                Shape::Unknown
            }
            Node::Binary(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
                self.walk(a, scope);
                self.walk(b, scope);
                Shape::Unknown
            }
            Node::Null | Node::Bool(_) | Node::Int(_) | Node::Float(_) | Node::Str(_) => {
                Shape::Unknown
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::rule::Rules;

    fn rule(kind: &str, assert: &str, evidence: &str) -> Rules {
        let text = format!(
            r#"
id = "OKTA-PWD-999"
version = 1
title = "t"
description = "d"
severity = "low"
kind = "{kind}"
assert = '{assert}'
evidence = [{evidence}]
message = "m"
remediation = "r"
[frameworks]
soc2 = []
nist-800-53 = []
hipaa = []
pci-dss = []
iso-27001 = []
cis = []
[[tests]]
name = "p"
expect = "pass"
resource = '{{}}'
[[tests]]
name = "f"
expect = "fail"
resource = '{{}}'
"#
        );
        Rules::from_files(
            Catalogue::okta().unwrap(),
            &[("rules/okta/password/OKTA-PWD-999.toml".into(), text)],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn problems(kind: &str, assert: &str, evidence: &str) -> Vec<String> {
        let rules = rule(kind, assert, evidence);
        lint(Catalogue::okta().unwrap(), rules.all())
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    #[test]
    fn real_paths_pass() {
        assert_eq!(
            problems(
                "policy",
                r#"resource.settings.password.complexity.minLength >= 8 && resource.settings.authenticators.all(a, a.enroll.self == "REQUIRED") && rules_of(resource).exists(r, r.actions.enroll.self == "NEVER")"#,
                r#""settings.password.complexity.minLength""#
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                "app",
                r#"resource._derived.accessPolicy != "" && app_policy(resource).type == "ACCESS_POLICY" && resource.profile.anything == 1"#,
                ""
            ),
            Vec::<String>::new(),
            "derived fields and open objects (profile.*) are known"
        );
    }

    #[test]
    fn misspelled_and_misplaced_paths_fail() {
        let found = problems(
            "policy",
            r#"resource.settings.pasword.complexity.minLength >= 8"#,
            r#""settings.password.lockout.maxAtempts""#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("reads `settings.pasword`, which is not a field of policy"),
            "{found:?}"
        );
        assert!(
            found[1].contains("`settings.password.lockout.maxAtempts` is not a field of policy")
        );
        // how-to-harden's bug: the persistent cookie setting is on rules, not policies.
        let found = problems(
            "policy",
            "resource.settings.oie.session.usePersistentCookie == false",
            "",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        // Through a macro, a helper, a let-free index and tree.<kind>.
        let found = problems(
            "policy",
            r#"rules_of(resource).all(r, r.action.signon.access == "DENY") && tree.app.exists(a, a.labl == "x") && resource["nmae"] == 1"#,
            "",
        );
        assert!(found.iter().any(|m| m.contains("`r.action`")), "{found:?}");
        assert!(found.iter().any(|m| m.contains("`a.labl`")), "{found:?}");
        assert!(found.iter().any(|m| m.contains("`nmae`")), "{found:?}");
        let found = problems("app", "resource._derived.accessPolcy == 1", "");
        assert!(found[0].contains("_derived.accessPolcy"), "{found:?}");
    }
}
