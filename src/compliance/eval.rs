//! Runs rules over an indexed tree: one result per selected resource (or one per tree for
//! `org` rules), each `pass`, `fail`, `error`, `not_evaluated` or `not_applicable`, with the
//! file, the evidence fields and their values, and the rule's message.
//!
//! Pure: the tree, the time and the profile are given, so the same inputs give the same
//! results. Absent data is never a pass: a kind without files makes the rule `not_evaluated`
//! (saying whether the backup could not read it, `butterfly.toml` leaves it out, or the tree
//! simply has none), and a field that is not there makes the result `error`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::expr::Part;
use super::interp::{Env, EvalError, Val};
use super::rule::{Profile, Rule, Scope, Source, Status, TestCase};
use super::tree::{Index, Resource, Tree};
use crate::catalogue::{Catalogue, FieldPath, Segment, pointer_token};

/// What the data covers, from the snapshot's commit and `butterfly.toml`.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Kinds the backup could not read (`Incomplete-Kinds:`), with why when the commit says.
    pub incomplete: BTreeMap<String, String>,
    /// Kinds `butterfly.toml` leaves out of backups.
    pub excluded: BTreeSet<String>,
}

impl Coverage {
    /// Why a kind without files was not evaluated.
    pub fn why_missing(&self, kind: &str) -> String {
        if let Some(why) = self.incomplete.get(kind) {
            let why = if why.is_empty() {
                "no reason recorded"
            } else {
                why
            };
            format!("the backup could not read `{kind}` (Incomplete-Kinds: {why})")
        } else if self.excluded.contains(kind) {
            format!("`{kind}` is left out of backups (butterfly.toml: backup.exclude_kinds)")
        } else {
            format!(
                "the tree has no file of kind `{kind}`: the org has none, or it was never backed up"
            )
        }
    }
}

/// The inputs of a run besides the rules and the tree.
#[derive(Clone, Debug)]
pub struct Context {
    /// `now` of `days_since`: the snapshot's commit time, or `--as-of`.
    pub now: DateTime<Utc>,
    /// When the data was read: the snapshot's commit time (for the working tree, the latest
    /// snapshot's). Rules see it, with the kinds the backup could not read, as `snapshot`:
    /// `{"time": "…", "incomplete_kinds": […]}`; `null` when unknown.
    pub taken: Option<DateTime<Utc>>,
    pub profile: Profile,
    pub coverage: Coverage,
}

/// A field a result points at, with its value (`None`: absent).
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    pub file: String,
    /// The field path relative to the resource (`settings.password.lockout.maxAttempts`).
    pub field: String,
    /// The JSON pointer in the file (`/settings/password/lockout/maxAttempts`, `/3/type`).
    pub pointer: String,
    pub value: Option<Value>,
}

/// One result of one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub status: Status,
    /// The resource's file (the first evidence's for `org` rules); `None` when there is none.
    pub file: Option<String>,
    /// The resource's pointer in its file (`""`, or `/3` for a relationship member).
    pub pointer: Option<String>,
    /// The rule's message for a failure, the reason for anything else but a pass.
    pub message: String,
    pub evidence: Vec<Evidence>,
    /// The waiver that matched this result, if any (`waiver::apply`).
    pub waiver: Option<WaiverNote>,
}

/// A waiver as it applied to a result: in force (`waived`) or expired (`fail` again).
#[derive(Clone, Debug, PartialEq)]
pub struct WaiverNote {
    pub reason: String,
    pub approver: String,
    /// The last day the waiver holds (`YYYY-MM-DD`).
    pub expires: String,
    pub expired: bool,
}

/// Everything one rule gave.
#[derive(Clone, Debug)]
pub struct Outcome<'r> {
    pub rule: &'r Rule,
    /// The worst result: any `fail`, else any `error`, else `waived`, else `pass` if any, else
    /// why not.
    pub status: Status,
    pub findings: Vec<Finding>,
}

impl Outcome<'_> {
    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }
}

/// An outcome's status from its results.
pub fn summary(findings: &[Finding]) -> Status {
    [
        Status::Fail,
        Status::Error,
        Status::Waived,
        Status::Pass,
        Status::NotEvaluated,
    ]
    .into_iter()
    .find(|s| findings.iter().any(|f| f.status == *s))
    .unwrap_or(Status::NotApplicable)
}

fn only(status: Status, message: String) -> Vec<Finding> {
    vec![Finding {
        status,
        file: None,
        pointer: None,
        message,
        evidence: Vec::new(),
        waiver: None,
    }]
}

/// Runs every rule.
pub fn evaluate<'r>(rules: &[&'r Rule], index: &Index<'_>, context: &Context) -> Vec<Outcome<'r>> {
    rules
        .iter()
        .map(|rule| evaluate_rule(rule, index, context))
        .collect()
}

/// Runs one rule.
pub fn evaluate_rule<'r>(rule: &'r Rule, index: &Index<'_>, context: &Context) -> Outcome<'r> {
    let findings = findings(rule, index, context);
    Outcome {
        rule,
        status: summary(&findings),
        findings,
    }
}

fn findings(rule: &Rule, index: &Index<'_>, context: &Context) -> Vec<Finding> {
    if !rule.enabled(context.profile) {
        return only(
            Status::NotApplicable,
            format!("turned off in the `{}` profile", context.profile),
        );
    }
    // The rule's own kind must have files; a kind it only reads (a policy's rules, group
    // members) may be empty in an org, so only a kind the backup did not read counts there.
    let coverage = &context.coverage;
    let mut missing: Vec<String> = Vec::new();
    if index.of_kind(&rule.kind).is_empty() {
        missing.push(coverage.why_missing(&rule.kind));
    }
    for kind in &rule.reads {
        let unread = coverage.incomplete.contains_key(kind) || coverage.excluded.contains(kind);
        if index.of_kind(kind).is_empty() && unread {
            missing.push(coverage.why_missing(kind));
        }
    }
    if !missing.is_empty() {
        return only(Status::NotEvaluated, missing.join("; "));
    }
    let params = rule.params_for(context.profile);
    let snapshot = snapshot_value(context);
    let runner = Runner {
        rule,
        index,
        context,
        params: &params,
        snapshot: &snapshot,
    };
    let mut findings = match rule.scope {
        Scope::Resource => {
            let mut out = Vec::new();
            for &position in index.of_kind(&rule.kind) {
                if let Some(finding) = runner.resource(index.resource(position)) {
                    out.push(finding);
                }
            }
            if out.is_empty() {
                let selection = rule
                    .select
                    .as_ref()
                    .map_or(String::new(), |s| format!(" matches `{}`", s.value));
                return only(
                    Status::NotApplicable,
                    format!("no {}{selection}", rule.kind),
                );
            }
            out
        }
        Scope::Org => vec![runner.org()],
    };
    findings.sort_by(|a, b| (&a.file, &a.pointer).cmp(&(&b.file, &b.pointer)));
    findings
}

struct Runner<'x, 't> {
    rule: &'x Rule,
    index: &'x Index<'t>,
    context: &'x Context,
    params: &'x Value,
    snapshot: &'x Value,
}

/// What rules see as `snapshot`.
fn snapshot_value(context: &Context) -> Value {
    match context.taken {
        None => Value::Null,
        Some(taken) => serde_json::json!({
            "time": taken.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "incomplete_kinds": context.coverage.incomplete.keys().collect::<Vec<_>>(),
        }),
    }
}

impl<'x, 't: 'x> Runner<'x, 't> {
    /// The names every expression of the rule sees: `params`, `profile` and the `let`s.
    fn env(&self) -> Env<'x, 'x> {
        let mut env = Env::new(self.context.now, self.index);
        env.bind("params", Val::from_json(self.params));
        env.bind("profile", Val::Str(self.context.profile.as_str().into()));
        env.bind("snapshot", Val::from_json(self.snapshot));
        for (name, source) in &self.rule.lets {
            env.bind_lazy(name, &source.value);
        }
        env
    }

    fn error(source: &Source<impl Sized>, error: &EvalError) -> String {
        format!("{}: {}", source.field, error.message)
    }

    /// The result for one resource; `None` when the rule does not select it.
    fn resource(&self, resource: &Resource<'t>) -> Option<Finding> {
        let rule = self.rule;
        let mut env = self.env();
        env.bind("resource", Val::from_json(resource.value));
        let parent = resource
            .parent
            .map_or(Val::Null, |p| Val::Json(self.index.resource(p).value));
        env.bind("parent", parent);
        let finding = |status, message| Finding {
            status,
            file: Some(resource.file.to_string()),
            pointer: Some(resource.pointer.clone()),
            message,
            evidence: evidence_of(&rule.evidence, resource),
            waiver: None,
        };
        if let Some(select) = &rule.select {
            match env.eval_bool(&select.value) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(finding(Status::Error, Self::error(select, &e))),
            }
        }
        Some(match env.eval_bool(&rule.assert.value) {
            Ok(true) => finding(Status::Pass, String::new()),
            Ok(false) => finding(Status::Fail, render(&rule.message, &env)),
            Err(e) => finding(Status::Error, Self::error(&rule.assert, &e)),
        })
    }

    /// The one result of an `org` rule.
    fn org(&self) -> Finding {
        let rule = self.rule;
        let env = self.env();
        let (status, message) = match env.eval_bool(&rule.assert.value) {
            Ok(true) => (Status::Pass, String::new()),
            Ok(false) => (Status::Fail, render(&rule.message, &env)),
            Err(e) => (Status::Error, Self::error(&rule.assert, &e)),
        };
        let mut evidence = Vec::new();
        let mut files = Vec::new();
        if status != Status::Pass
            && let Some(from) = &rule.evidence_from
        {
            match env.eval(&from.value).map(|v| v.elements()) {
                Ok(Some(items)) => {
                    for item in items {
                        let Val::Json(value) = item else { continue };
                        let Some(position) = self.index.resource_of(value) else {
                            continue;
                        };
                        let resource = self.index.resource(position);
                        files.push((resource.file.to_string(), resource.pointer.clone()));
                        evidence.extend(evidence_of(&rule.evidence, resource));
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(rule = %rule.id, error = %e, "evidence_from failed"),
            }
        }
        let (file, pointer) = files.into_iter().next().unzip();
        Finding {
            status,
            file,
            pointer,
            message,
            evidence,
            waiver: None,
        }
    }
}

/// The JSON pointer of a field path's leading keys (up to its first `[*]` or `*`).
fn pointer_of(path: &FieldPath) -> String {
    let mut out = String::new();
    for segment in path.segments() {
        match segment {
            Segment::Key(key) => {
                out.push('/');
                out.push_str(&pointer_token(key));
            }
            _ => break,
        }
    }
    out
}

fn evidence_of(paths: &[FieldPath], resource: &Resource<'_>) -> Vec<Evidence> {
    let mut out = Vec::new();
    for path in paths {
        let found = path.select_with_pointers(resource.value);
        if found.is_empty() {
            out.push(Evidence {
                file: resource.file.to_string(),
                field: path.to_string(),
                pointer: format!("{}{}", resource.pointer, pointer_of(path)),
                value: None,
            });
        }
        for (pointer, value) in found {
            out.push(Evidence {
                file: resource.file.to_string(),
                field: path.to_string(),
                pointer: format!("{}{pointer}", resource.pointer),
                value: Some(value.clone()),
            });
        }
    }
    out
}

/// A message template with its holes filled; a hole that fails says so in place.
fn render(parts: &[Part], env: &Env<'_, '_>) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Hole(expr) => match env.eval(expr) {
                Ok(value) => out.push_str(&value.display()),
                Err(e) => out.push_str(&format!("<{expr}: {}>", e.message)),
            },
        }
    }
    out.trim().to_string()
}

/// The time a test case runs at unless it names one.
pub const TEST_NOW: &str = "2026-01-01T00:00:00Z";

/// Runs one of a rule's test cases: its resource (under its parent) and tree, alone.
pub fn run_test<'r>(catalogue: &Catalogue, rule: &'r Rule, test: &TestCase) -> Outcome<'r> {
    let mut tree = Tree::from_files(catalogue, test.tree.clone());
    let parent_path = test.parent.as_ref().map(|(kind, value)| {
        let path = format!("test/{kind}.json");
        tree.push(catalogue, kind, path.clone(), None, value.clone());
        path
    });
    if let Some(resource) = &test.resource {
        let relationship = catalogue
            .kind(&rule.kind)
            .is_some_and(|k| matches!(k.shape, crate::catalogue::Shape::Relationship { .. }));
        let value = if relationship && !resource.is_array() {
            Value::Array(vec![resource.clone()])
        } else {
            resource.clone()
        };
        tree.push(
            catalogue,
            &rule.kind,
            format!("test/{}.json", rule.kind),
            parent_path,
            value,
        );
    }
    let now = test
        .now
        .as_deref()
        .unwrap_or(TEST_NOW)
        .parse::<DateTime<Utc>>()
        .unwrap_or_default();
    let index = Index::new(catalogue, &tree);
    let taken = test
        .taken
        .as_deref()
        .map_or(Some(now), |t| t.parse::<DateTime<Utc>>().ok());
    let mut coverage = Coverage::default();
    for kind in &test.incomplete_kinds {
        coverage.incomplete.insert(kind.clone(), String::new());
    }
    let context = Context {
        now,
        taken,
        profile: test.profile,
        coverage,
    };
    evaluate_rule(rule, &index, &context)
}
