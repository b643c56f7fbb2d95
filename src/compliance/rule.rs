//! The rule format: one TOML file per rule, `rules/okta/<family>/<ID>.toml`, parsed and checked
//! into a [`Rule`]: metadata, the selection and assertion as parsed expressions, parameters per
//! profile, evidence paths, control ids per framework, and the rule's own test cases.
//!
//! Every problem names the file, line, column and TOML field; all problems of all files are
//! reported at once. Checks here make a rule runnable (syntax, names, functions and their
//! arity, parameters, kinds); `lint` checks what it reads against Okta's schema.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use super::expr::{self, Expr, Node, Part};
use super::interp::BUILTINS;
use super::tree::{HELPERS, helper};
use crate::catalogue::{Catalogue, FieldPath, Location, Problem};

// ---------------------------------------------------------------------------------------------
// Vocabulary

/// How bad a failure is; ordered from `Low` to `Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The frameworks rules map to, by the names the CLI takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Framework {
    Soc2,
    Nist80053,
    Hipaa,
    PciDss,
    Iso27001,
    Cis,
}

impl Framework {
    pub const ALL: [Framework; 6] = [
        Framework::Soc2,
        Framework::Nist80053,
        Framework::Hipaa,
        Framework::PciDss,
        Framework::Iso27001,
        Framework::Cis,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Soc2 => "soc2",
            Framework::Nist80053 => "nist-800-53",
            Framework::Hipaa => "hipaa",
            Framework::PciDss => "pci-dss",
            Framework::Iso27001 => "iso-27001",
            Framework::Cis => "cis",
        }
    }

    /// The framework's full name, for reports.
    pub fn title(self) -> &'static str {
        match self {
            Framework::Soc2 => "SOC 2 (Trust Services Criteria)",
            Framework::Nist80053 => "NIST SP 800-53 Rev. 5",
            Framework::Hipaa => "HIPAA Security Rule",
            Framework::PciDss => "PCI DSS v4.0",
            Framework::Iso27001 => "ISO/IEC 27001:2022 Annex A",
            Framework::Cis => "CIS Controls v8",
        }
    }
}

/// Parameter sets (research §2.3): `baseline` is every rule's `[params]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    Baseline,
    Pci,
    Stig,
    Nist63b,
    Cis,
}

impl Profile {
    pub const ALL: [Profile; 5] = [
        Profile::Baseline,
        Profile::Pci,
        Profile::Stig,
        Profile::Nist63b,
        Profile::Cis,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Baseline => "baseline",
            Profile::Pci => "pci",
            Profile::Stig => "stig",
            Profile::Nist63b => "nist63b",
            Profile::Cis => "cis",
        }
    }
}

macro_rules! named {
    ($ty:ident, $what:literal) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| {
                        let known: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                        format!("`{text}` is not a {}; one of: {}", $what, known.join(", "))
                    })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named!(Severity, "severity");
named!(Framework, "framework");
named!(Profile, "profile");

/// One result per selected resource, or one per tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Resource,
    Org,
}

/// A result's status. `Waived`: a failure `butterfly.toml` accepts until a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Fail,
    Error,
    NotEvaluated,
    NotApplicable,
    Waived,
    Pass,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Fail,
        Status::Error,
        Status::NotEvaluated,
        Status::NotApplicable,
        Status::Waived,
        Status::Pass,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::NotEvaluated => "not_evaluated",
            Status::NotApplicable => "not_applicable",
            Status::Waived => "waived",
        }
    }
}

named!(Status, "status");

// ---------------------------------------------------------------------------------------------
// The model

/// A rule's expression, with where its text starts in the rule file (for messages).
#[derive(Clone, Debug)]
pub struct Source<T> {
    pub value: T,
    /// The TOML field (`assert`, `let.attempts`).
    pub field: String,
    pub line: usize,
    /// The byte offset in the rule file where the expression's text starts.
    pub start: usize,
}

/// Per-profile overrides.
#[derive(Clone, Debug, Default)]
pub struct ProfileSettings {
    pub enabled: bool,
    pub params: BTreeMap<String, Value>,
}

/// One of a rule's test cases.
#[derive(Clone, Debug)]
pub struct TestCase {
    pub name: String,
    pub expect: Status,
    pub profile: Profile,
    pub now: Option<String>,
    /// When the test's snapshot was taken (`snapshot.time`); default: `now`.
    pub taken: Option<String>,
    /// Kinds the test's backup could not read (`snapshot.incomplete_kinds`).
    pub incomplete_kinds: Vec<String>,
    /// A resource of the rule's kind, with its parent (and the parent's kind).
    pub resource: Option<Value>,
    pub parent: Option<(String, Value)>,
    /// Further files, by their path in an org repository.
    pub tree: Vec<(String, Value)>,
    pub line: usize,
}

/// A loaded, checked rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub version: u32,
    /// `rules/okta/<family>/<ID>.toml`.
    pub source: String,
    pub family: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub kind: String,
    pub scope: Scope,
    pub select: Option<Source<Expr>>,
    pub lets: Vec<(String, Source<Expr>)>,
    pub assert: Source<Expr>,
    pub evidence: Vec<FieldPath>,
    pub evidence_from: Option<Source<Expr>>,
    pub message: Vec<Part>,
    /// The line of `message` in the rule file.
    pub message_line: usize,
    pub remediation: String,
    pub params: BTreeMap<String, Value>,
    pub profiles: BTreeMap<Profile, ProfileSettings>,
    /// When not empty, the only profiles that run the rule.
    pub only_in: Vec<Profile>,
    pub frameworks: BTreeMap<Framework, Vec<String>>,
    pub stig: Vec<String>,
    pub urls: Vec<String>,
    pub tests: Vec<TestCase>,
    /// The kinds the rule reads besides its own (parent, `tree.<kind>`, helpers).
    pub reads: BTreeSet<String>,
    /// The possible kinds of `parent`.
    pub parent_kinds: Vec<String>,
}

impl Rule {
    /// Whether the profile runs this rule.
    pub fn enabled(&self, profile: Profile) -> bool {
        (self.only_in.is_empty() || self.only_in.contains(&profile))
            && self.profiles.get(&profile).is_none_or(|p| p.enabled)
    }

    /// The parameters under a profile: `[params]` with the profile's overrides.
    pub fn params_for(&self, profile: Profile) -> Value {
        let mut params: serde_json::Map<String, Value> = self
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(settings) = self.profiles.get(&profile) {
            for (k, v) in &settings.params {
                params.insert(k.clone(), v.clone());
            }
        }
        Value::Object(params)
    }

    /// The control ids of a framework (empty: not mapped).
    pub fn controls(&self, framework: Framework) -> &[String] {
        self.frameworks.get(&framework).map_or(&[], Vec::as_slice)
    }

    /// Every expression of the rule with its field name.
    pub fn expressions(&self) -> Vec<(&str, &Expr)> {
        let mut out: Vec<(&str, &Expr)> = Vec::new();
        for (_, source) in &self.lets {
            out.push((&source.field, &source.value));
        }
        if let Some(select) = &self.select {
            out.push(("select", &select.value));
        }
        out.push(("assert", &self.assert.value));
        if let Some(from) = &self.evidence_from {
            out.push(("evidence_from", &from.value));
        }
        for part in &self.message {
            if let Part::Hole(hole) = part {
                out.push(("message", hole));
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The TOML shape

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    version: u32,
    title: Spanned<String>,
    description: Spanned<String>,
    severity: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    scope: Option<Spanned<String>>,
    #[serde(default)]
    select: Option<Spanned<String>>,
    /// `let.name = 'expr'`: named sub-expressions, evaluated when first read.
    #[serde(default, rename = "let")]
    lets: BTreeMap<String, Spanned<String>>,
    assert: Spanned<String>,
    #[serde(default)]
    evidence: Vec<Spanned<String>>,
    #[serde(default)]
    evidence_from: Option<Spanned<String>>,
    message: Spanned<String>,
    remediation: Spanned<String>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    profiles: BTreeMap<String, Spanned<RawProfile>>,
    /// The rule runs only under these profiles (`["stig"]` for STIG-only checks).
    #[serde(default)]
    only_in: Vec<Spanned<String>>,
    frameworks: RawFrameworks,
    #[serde(default)]
    references: RawReferences,
    #[serde(default)]
    tests: Vec<Spanned<RawTest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrameworks {
    soc2: Vec<String>,
    #[serde(rename = "nist-800-53")]
    nist: Vec<String>,
    hipaa: Vec<String>,
    #[serde(rename = "pci-dss")]
    pci: Vec<String>,
    #[serde(rename = "iso-27001")]
    iso: Vec<String>,
    cis: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReferences {
    #[serde(default)]
    stig: Vec<String>,
    #[serde(default)]
    urls: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: String,
    expect: Spanned<String>,
    #[serde(default)]
    profile: Option<Spanned<String>>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    taken: Option<String>,
    #[serde(default)]
    incomplete_kinds: Vec<String>,
    #[serde(default)]
    resource: Option<Spanned<String>>,
    #[serde(default)]
    parent: Option<Spanned<String>>,
    #[serde(default)]
    parent_kind: Option<Spanned<String>>,
    #[serde(default)]
    tree: BTreeMap<String, Spanned<String>>,
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Every problem found while loading the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "the compliance rules are invalid ({count} problem{}):",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Collects the problems of one file.
struct Report<'f> {
    file: &'f str,
    text: &'f str,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn at(&mut self, offset: usize, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            location: Location::at(self.file, self.text, offset),
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// Where a string value's text starts, past its quotes (and the newline after `'''`).
    fn content_start(&self, span: &Range<usize>) -> usize {
        let raw = &self.text[span.start.min(self.text.len())..];
        let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
            3
        } else if raw.starts_with('\'') || raw.starts_with('"') {
            1
        } else {
            0
        };
        let mut start = span.start + quote;
        if quote == 3 {
            let after = &self.text[start.min(self.text.len())..];
            if after.starts_with("\r\n") {
                start += 2;
            } else if after.starts_with('\n') {
                start += 1;
            }
        }
        start
    }

    fn line(&self, offset: usize) -> usize {
        Location::at(self.file, self.text, offset).line
    }

    /// Parses an expression field, reporting a syntax error where it is.
    fn expression(&mut self, field: &str, value: &Spanned<String>) -> Option<Source<Expr>> {
        let start = self.content_start(&value.span());
        match expr::parse(value.get_ref()) {
            Ok(parsed) => Some(Source {
                value: parsed,
                field: field.to_string(),
                line: self.line(start),
                start,
            }),
            Err(e) => {
                self.at(start + e.at, field, e.message);
                None
            }
        }
    }
}

/// The loaded rules, sorted by id.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Loads `rules/<provider>/<family>/<ID>.toml` files given as `(path, text)`.
    pub fn from_files(
        catalogue: &Catalogue,
        files: &[(String, String)],
    ) -> Result<Rules, RulesError> {
        let mut problems = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for (path, text) in files {
            let mut report = Report {
                file: path,
                text,
                problems: Vec::new(),
            };
            if let Some(rule) = load_rule(catalogue, &mut report) {
                rules.push(rule);
            }
            problems.extend(report.problems);
        }
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for rule in &rules {
            if let Some(first) = seen.insert(rule.id.clone(), rule.source.clone()) {
                problems.push(Problem {
                    location: Location {
                        file: rule.source.clone(),
                        line: 1,
                        column: 1,
                    },
                    field: "id".into(),
                    message: format!("`{}` is also the id of {first}", rule.id),
                });
            }
        }
        if !problems.is_empty() {
            return Err(RulesError { problems });
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Rules { rules })
    }

    pub fn all(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }
}

fn to_json(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `rules/okta/<family>/<ID>.toml` → (family, ID).
fn family_and_id(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("rules/okta/")?;
    let (family, file) = rest.split_once('/')?;
    let id = file.strip_suffix(".toml")?;
    (!id.contains('/')).then_some((family, id))
}

fn load_rule(catalogue: &Catalogue, report: &mut Report<'_>) -> Option<Rule> {
    let raw: RawRule = match toml::from_str(report.text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            report.at(offset, "(file)", e.message().to_string());
            return None;
        }
    };
    let before = report.problems.len();
    let Some((family, file_id)) = family_and_id(report.file) else {
        report.at(0, "(file)", "a rule lives at rules/okta/<family>/<ID>.toml");
        return None;
    };
    let id = raw.id.get_ref().clone();
    if id != file_id {
        report.at(
            raw.id.span().start,
            "id",
            format!("`{id}` must match the file name `{file_id}`"),
        );
    }
    if !id.starts_with("OKTA-") || !id[5..].contains('-') {
        report.at(
            raw.id.span().start,
            "id",
            format!("`{id}` is not of the form OKTA-<FAMILY>-<NNN>"),
        );
    }
    for (field, value) in [
        ("title", &raw.title),
        ("description", &raw.description),
        ("remediation", &raw.remediation),
    ] {
        if value.get_ref().trim().is_empty() {
            report.at(value.span().start, field, "must not be empty");
        }
    }
    let severity = match raw.severity.get_ref().parse::<Severity>() {
        Ok(severity) => severity,
        Err(e) => {
            report.at(raw.severity.span().start, "severity", e);
            Severity::Low
        }
    };
    let kind = raw.kind.get_ref().clone();
    let Some(kind_def) = catalogue.kind(&kind) else {
        report.at(
            raw.kind.span().start,
            "kind",
            format!("`{kind}` is not a catalogue kind (`butterfly catalogue` lists them)"),
        );
        return None;
    };
    let scope = match raw.scope.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("resource") => Scope::Resource,
        Some("org") => Scope::Org,
        Some(other) => {
            let at = raw.scope.as_ref().map_or(0, |s| s.span().start);
            report.at(at, "scope", format!("`{other}` is not `resource` or `org`"));
            Scope::Resource
        }
    };
    let parent_kinds: Vec<String> = kind_def.parents().into_iter().map(str::to_string).collect();

    // Parameters and profiles.
    let params: BTreeMap<String, Value> = raw
        .params
        .iter()
        .map(|(k, v)| (k.clone(), to_json(v)))
        .collect();
    let mut profiles = BTreeMap::new();
    for (name, settings) in &raw.profiles {
        let at = settings.span().start;
        let profile = match name.parse::<Profile>() {
            Ok(Profile::Baseline) if !settings.get_ref().params.is_empty() => {
                report.at(
                    at,
                    &format!("profiles.{name}.params"),
                    "`baseline`'s parameters are `[params]` itself",
                );
                continue;
            }
            Ok(profile) => profile,
            Err(e) => {
                report.at(at, &format!("profiles.{name}"), e);
                continue;
            }
        };
        let settings = settings.get_ref();
        for key in settings.params.keys() {
            if !params.contains_key(key) {
                report.at(
                    at,
                    &format!("profiles.{name}.params.{key}"),
                    format!("`{key}` is not in `[params]`; a profile only overrides parameters"),
                );
            }
        }
        profiles.insert(
            profile,
            ProfileSettings {
                enabled: settings.enabled,
                params: settings
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), to_json(v)))
                    .collect(),
            },
        );
    }

    let mut only_in = Vec::new();
    for name in &raw.only_in {
        match name.get_ref().parse::<Profile>() {
            Ok(profile) => only_in.push(profile),
            Err(e) => report.at(name.span().start, "only_in", e),
        }
    }

    // Expressions.
    let mut lets = Vec::new();
    for (name, value) in &raw.lets {
        let field = format!("let.{name}");
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
            || RESERVED.contains(&name.as_str())
        {
            report.at(
                value.span().start,
                &field,
                format!("`{name}` cannot be a name"),
            );
        }
        if let Some(source) = report.expression(&field, value) {
            lets.push((name.clone(), source));
        }
    }
    if let Some(cycle) = let_cycle(&lets) {
        let at = raw.lets.get(&cycle[0]).map_or(0, |v| v.span().start);
        report.at(
            at,
            &format!("let.{}", cycle[0]),
            format!(
                "the lets refer to each other in a loop: {}",
                cycle.join(" → ")
            ),
        );
    }
    let select = raw
        .select
        .as_ref()
        .and_then(|s| report.expression("select", s));
    if scope == Scope::Org && raw.select.is_some() {
        report.at(
            raw.select.as_ref().map_or(0, |s| s.span().start),
            "select",
            "an `org` rule has no resource to select",
        );
    }
    let assert = report.expression("assert", &raw.assert);
    let evidence_from = raw
        .evidence_from
        .as_ref()
        .and_then(|s| report.expression("evidence_from", s));
    if scope == Scope::Resource && raw.evidence_from.is_some() {
        report.at(
            raw.evidence_from.as_ref().map_or(0, |s| s.span().start),
            "evidence_from",
            "only `org` rules name their evidence with an expression; a `resource` rule's is the resource",
        );
    }
    let message_start = report.content_start(&raw.message.span());
    let message = match expr::parse_template(raw.message.get_ref()) {
        Ok(parts) => parts,
        Err(e) => {
            report.at(message_start + e.at, "message", e.message);
            Vec::new()
        }
    };
    let mut evidence = Vec::new();
    for path in &raw.evidence {
        match FieldPath::parse(path.get_ref()) {
            Ok(parsed) => evidence.push(parsed),
            Err(e) => report.at(path.span().start, "evidence", e.to_string()),
        }
    }

    // Names, functions and the kinds read.
    let mut reads = BTreeSet::new();
    let mut names: Vec<String> = vec![
        "params".into(),
        "profile".into(),
        "now".into(),
        "snapshot".into(),
        "tree".into(),
    ];
    if scope == Scope::Resource {
        names.push("resource".into());
        if !parent_kinds.is_empty() {
            names.push("parent".into());
        }
    }
    let checker = NameCheck {
        catalogue,
        params: &params,
    };
    names.extend(lets.iter().map(|(name, _)| name.clone()));
    let sources = lets
        .iter()
        .map(|(_, source)| source)
        .chain(&select)
        .chain(&assert)
        .chain(&evidence_from);
    for source in sources {
        let mut found = Vec::new();
        checker.check(&source.value, &mut names.clone(), &mut found, &mut reads);
        report_names(report, source.start, &source.field, found);
    }
    for part in &message {
        if let Part::Hole(hole) = part {
            let mut found = Vec::new();
            checker.check(hole, &mut names.clone(), &mut found, &mut reads);
            report_names(report, message_start, "message", found);
        }
    }
    if reads.remove("parent") {
        reads.extend(parent_kinds.iter().cloned());
    }
    reads.remove(&kind);

    // Frameworks and references.
    let fw = &raw.frameworks;
    let frameworks: BTreeMap<Framework, Vec<String>> = [
        (Framework::Soc2, &fw.soc2),
        (Framework::Nist80053, &fw.nist),
        (Framework::Hipaa, &fw.hipaa),
        (Framework::PciDss, &fw.pci),
        (Framework::Iso27001, &fw.iso),
        (Framework::Cis, &fw.cis),
    ]
    .into_iter()
    .map(|(f, ids)| (f, ids.clone()))
    .collect();
    for (framework, ids) in &frameworks {
        if ids.iter().any(|id| id.trim().is_empty()) {
            report.at(
                0,
                &format!("frameworks.{framework}"),
                "a control id is empty",
            );
        }
    }

    // Test cases.
    let mut tests = Vec::new();
    for (i, raw_test) in raw.tests.iter().enumerate() {
        if let Some(test) = load_test(report, i, raw_test, scope, &parent_kinds) {
            tests.push(test);
        }
    }
    for wanted in [Status::Pass, Status::Fail] {
        if !tests.iter().any(|t| t.expect == wanted) {
            report.at(
                report.text.len(),
                "tests",
                format!("needs at least one test case expecting `{wanted}`"),
            );
        }
    }

    if report.problems.len() > before {
        return None;
    }
    Some(Rule {
        id,
        version: raw.version,
        source: report.file.to_string(),
        family: family.to_string(),
        title: raw.title.into_inner(),
        description: raw.description.into_inner(),
        severity,
        kind,
        scope,
        select,
        lets,
        assert: assert?,
        evidence,
        evidence_from,
        message,
        message_line: report.line(message_start),
        remediation: raw.remediation.into_inner(),
        params,
        profiles,
        only_in,
        frameworks,
        stig: raw.references.stig,
        urls: raw.references.urls,
        tests,
        reads,
        parent_kinds,
    })
}

/// A loop among the lets (`a` reads `b` reads `a`), as the names along it.
fn let_cycle(lets: &[(String, Source<Expr>)]) -> Option<Vec<String>> {
    let reads: BTreeMap<&str, BTreeSet<String>> = lets
        .iter()
        .map(|(name, source)| {
            let mut names = BTreeSet::new();
            source.value.walk(&mut |e| {
                if let Node::Ident(n) = &e.node
                    && lets.iter().any(|(l, _)| l == n)
                {
                    names.insert(n.clone());
                }
            });
            (name.as_str(), names)
        })
        .collect();
    fn visit(
        name: &str,
        reads: &BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| p == name) {
            let mut cycle = path[start..].to_vec();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        path.push(name.to_string());
        for next in reads.get(name).into_iter().flatten() {
            if let Some(cycle) = visit(next, reads, path) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    reads
        .keys()
        .find_map(|name| visit(name, &reads, &mut Vec::new()))
}

/// Names a rule cannot give a `let` or a macro variable.
const RESERVED: &[&str] = &[
    "resource", "parent", "params", "profile", "now", "snapshot", "tree", "true", "false", "null",
    "in",
];

fn report_names(report: &mut Report<'_>, start: usize, field: &str, found: Vec<(usize, String)>) {
    for (at, message) in found {
        report.at(start + at, field, message);
    }
}

/// Checks that every name is bound, every function exists with its arity, every `params.x` is
/// declared and every `tree.<kind>` is a kind; collects the kinds read.
struct NameCheck<'c> {
    catalogue: &'c Catalogue,
    params: &'c BTreeMap<String, Value>,
}

impl NameCheck<'_> {
    fn check(
        &self,
        expr: &Expr,
        scope: &mut Vec<String>,
        problems: &mut Vec<(usize, String)>,
        reads: &mut BTreeSet<String>,
    ) {
        match &expr.node {
            Node::Ident(name) => {
                if !scope.iter().any(|n| n == name) {
                    problems.push((expr.at, format!("unknown name `{name}`")));
                } else if name == "parent" {
                    reads.insert("parent".into());
                }
            }
            Node::Member(target, name) if matches!(&target.node, Node::Ident(t) if t == "params") => {
                if !self.params.contains_key(name) {
                    problems.push((
                        expr.at,
                        format!("`params.{name}` is not declared in `[params]`"),
                    ));
                }
            }
            Node::Member(target, name) if matches!(&target.node, Node::Ident(t) if t == "tree") => {
                if self.catalogue.kind(name).is_none() {
                    problems.push((
                        expr.at,
                        format!("`tree.{name}`: `{name}` is not a catalogue kind"),
                    ));
                } else {
                    reads.insert(name.clone());
                }
            }
            Node::Macro {
                target, var, body, ..
            } => {
                self.check(target, scope, problems, reads);
                if RESERVED.contains(&var.as_str()) {
                    problems.push((expr.at, format!("`{var}` cannot be a variable name")));
                }
                scope.push(var.clone());
                self.check(body, scope, problems, reads);
                scope.pop();
            }
            Node::Call { name, target, args } => {
                let method = target.is_some();
                let known_builtin = BUILTINS
                    .iter()
                    .any(|(n, m, arity)| n == name && *m == method && *arity == args.len());
                let known_helper = !method && helper(name).is_some_and(|h| h.arity == args.len());
                if !known_builtin && !known_helper {
                    let mut names: Vec<String> = BUILTINS
                        .iter()
                        .map(|(n, m, _)| {
                            if *m {
                                format!(".{n}()")
                            } else {
                                format!("{n}()")
                            }
                        })
                        .chain(HELPERS.iter().map(|h| format!("{}()", h.name)))
                        .collect();
                    names.dedup();
                    let exists =
                        BUILTINS.iter().any(|(n, _, _)| n == name) || helper(name).is_some();
                    let message = if exists {
                        format!(
                            "`{name}` is called with the wrong number of arguments or the wrong form"
                        )
                    } else {
                        format!("unknown function `{name}`; known: {}", names.join(", "))
                    };
                    problems.push((expr.at, message));
                }
                if let Some(helper) = helper(name) {
                    reads.extend(helper.reads.iter().map(|k| k.to_string()));
                }
                if let Some(target) = target {
                    self.check(target, scope, problems, reads);
                }
                for arg in args {
                    self.check(arg, scope, problems, reads);
                }
            }
            _ => {
                let mut children = Vec::new();
                collect_children(expr, &mut children);
                for child in children {
                    self.check(child, scope, problems, reads);
                }
            }
        }
    }
}

/// The direct children of a node (macros and calls are handled by the caller).
fn collect_children<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &expr.node {
        Node::List(items) => out.extend(items.iter()),
        Node::Member(t, _) | Node::Not(t) | Node::Neg(t) | Node::Has(t) => out.push(t),
        Node::Index(a, b) | Node::Binary(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
            out.push(a);
            out.push(b);
        }
        Node::Cond(c, a, b) => {
            out.push(c);
            out.push(a);
            out.push(b);
        }
        Node::Call { target, args, .. } => {
            out.extend(target.as_deref());
            out.extend(args.iter());
        }
        Node::Macro { target, body, .. } => {
            out.push(target);
            out.push(body);
        }
        _ => {}
    }
}

fn json_field(report: &mut Report<'_>, field: &str, value: &Spanned<String>) -> Option<Value> {
    match serde_json::from_str(value.get_ref()) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            let start = report.content_start(&value.span());
            // serde_json counts lines and columns from 1 within the string.
            let line_start: usize = value
                .get_ref()
                .split_inclusive('\n')
                .take(e.line().saturating_sub(1))
                .map(str::len)
                .sum();
            report.at(
                start + line_start + e.column().saturating_sub(1),
                field,
                format!("not JSON: {e}"),
            );
            None
        }
    }
}

fn load_test(
    report: &mut Report<'_>,
    i: usize,
    raw: &Spanned<RawTest>,
    scope: Scope,
    parent_kinds: &[String],
) -> Option<TestCase> {
    let line = report.line(raw.span().start);
    let at = raw.span().start;
    let raw = raw.get_ref();
    let field = |name: &str| format!("tests[{i}].{name}");
    let expect = match raw.expect.get_ref().parse::<Status>() {
        Ok(status) => status,
        Err(e) => {
            report.at(raw.expect.span().start, &field("expect"), e);
            return None;
        }
    };
    let profile = match &raw.profile {
        None => Profile::Baseline,
        Some(p) => match p.get_ref().parse::<Profile>() {
            Ok(profile) => profile,
            Err(e) => {
                report.at(p.span().start, &field("profile"), e);
                return None;
            }
        },
    };
    for (name, time) in [("now", &raw.now), ("taken", &raw.taken)] {
        if let Some(time) = time
            && chrono::DateTime::parse_from_rfc3339(time).is_err()
        {
            report.at(
                at,
                &field(name),
                format!("`{time}` is not an RFC 3339 time"),
            );
        }
    }
    let resource = match &raw.resource {
        Some(text) => Some(json_field(report, &field("resource"), text)?),
        None => None,
    };
    if scope == Scope::Resource && resource.is_none() && raw.tree.is_empty() {
        report.at(
            at,
            &field("resource"),
            "a test of a `resource` rule needs `resource` or `tree`",
        );
    }
    if scope == Scope::Org && (resource.is_some() || raw.parent.is_some()) {
        report.at(
            at,
            &field("resource"),
            "a test of an `org` rule gives a `tree`",
        );
    }
    let parent = match &raw.parent {
        Some(text) => {
            let kind = match &raw.parent_kind {
                Some(k) if parent_kinds.contains(k.get_ref()) => k.get_ref().clone(),
                Some(k) => {
                    report.at(
                        k.span().start,
                        &field("parent_kind"),
                        format!(
                            "`{}` is not a parent kind of this rule's kind ({})",
                            k.get_ref(),
                            parent_kinds.join(", ")
                        ),
                    );
                    return None;
                }
                None => match parent_kinds.first() {
                    Some(k) => k.clone(),
                    None => {
                        report.at(at, &field("parent"), "this rule's kind has no parent");
                        return None;
                    }
                },
            };
            Some((kind, json_field(report, &field("parent"), text)?))
        }
        None => None,
    };
    let mut tree = Vec::new();
    for (path, text) in &raw.tree {
        if !path.starts_with("okta/") || !path.ends_with(".json") {
            report.at(
                text.span().start,
                &field("tree"),
                format!("`{path}` is not an org repository file (okta/….json)"),
            );
            continue;
        }
        tree.push((
            path.clone(),
            json_field(report, &field(&format!("tree.{path:?}")), text)?,
        ));
    }
    Some(TestCase {
        name: raw.name.clone(),
        expect,
        profile,
        now: raw.now.clone(),
        taken: raw.taken.clone(),
        incomplete_kinds: raw.incomplete_kinds.clone(),
        resource,
        parent,
        tree,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Rules, RulesError> {
        Rules::from_files(
            Catalogue::okta().unwrap(),
            &[(
                "rules/okta/password/OKTA-PWD-999.toml".to_string(),
                text.to_string(),
            )],
        )
    }

    const GOOD: &str = r#"
id = "OKTA-PWD-999"
version = 1
title = "t"
description = "d"
severity = "high"
kind = "policy"
select = 'resource.type == "PASSWORD"'
assert = 'resource.settings.password.lockout.maxAttempts <= params.max'
message = "{{resource.name}} allows {{resource.settings.password.lockout.maxAttempts}}"
remediation = "r"
evidence = ["settings.password.lockout.maxAttempts"]
[params]
max = 10
[profiles.stig]
params = { max = 3 }
[profiles.nist63b]
enabled = false
[frameworks]
soc2 = ["CC6.1"]
nist-800-53 = []
hipaa = []
pci-dss = []
iso-27001 = []
cis = []
[[tests]]
name = "p"
expect = "pass"
resource = '{"type":"PASSWORD","name":"x","settings":{"password":{"lockout":{"maxAttempts":3}}}}'
[[tests]]
name = "f"
expect = "fail"
resource = '{"type":"PASSWORD","name":"x","settings":{"password":{"lockout":{"maxAttempts":30}}}}'
"#;

    #[test]
    fn a_good_rule_loads_with_its_profiles() {
        let rules = load(GOOD).unwrap_or_else(|e| panic!("{e}"));
        let rule = rules.get("okta-pwd-999").unwrap();
        assert_eq!(rule.family, "password");
        assert_eq!(rule.params_for(Profile::Baseline)["max"], 10);
        assert_eq!(rule.params_for(Profile::Stig)["max"], 3);
        assert!(!rule.enabled(Profile::Nist63b));
        assert!(rule.enabled(Profile::Pci));
        assert!(rule.controls(Framework::Cis).is_empty());
        assert_eq!(rule.tests.len(), 2);
        assert!(rule.reads.is_empty());
    }

    fn problems(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn problems_name_the_file_line_and_field() {
        let bad = GOOD.replace("params.max'", "params.maximum'");
        let error = problems(&bad);
        assert!(
            error.contains("rules/okta/password/OKTA-PWD-999.toml:9:")
                && error.contains("`assert`: `params.maximum` is not declared"),
            "{error}"
        );
        let bad = GOOD.replace("<= params.max'", "<= = params.max'");
        let error = problems(&bad);
        assert!(
            error.contains(":9:61: `assert`: unexpected character `=`"),
            "{error}"
        );
        let bad = GOOD.replace("severity = \"high\"", "severity = \"urgent\"");
        assert!(problems(&bad).contains("`severity`: `urgent` is not a severity"));
        let bad = GOOD.replace("kind = \"policy\"", "kind = \"policies\"");
        assert!(problems(&bad).contains("`policies` is not a catalogue kind"));
        let bad = GOOD.replace("resource.type ==", "resourc.type ==");
        let error = problems(&bad);
        assert!(
            error.contains(":8:11: `select`: unknown name `resourc`"),
            "{error}"
        );
        let bad = GOOD.replace("{{resource.name}}", "{{sizes(resource)}}");
        assert!(problems(&bad).contains("unknown function `sizes`"));
        let bad = GOOD.replace("cis = []\n", "");
        assert!(problems(&bad).contains("missing field `cis`"));
        let bad = GOOD.replace("[profiles.stig]", "[profiles.fedramp]");
        assert!(problems(&bad).contains("`fedramp` is not a profile"));
        let bad = GOOD.replace("expect = \"fail\"", "expect = \"pass\"");
        assert!(problems(&bad).contains("needs at least one test case expecting `fail`"));
        let bad = GOOD.replace("\"maxAttempts\":30}", "\"maxAttempts\":30");
        assert!(problems(&bad).contains("`tests[1].resource`: not JSON"));
        let bad = GOOD.replace("id = \"OKTA-PWD-999\"", "id = \"OKTA-PWD-998\"");
        assert!(problems(&bad).contains("must match the file name"));
    }
}
