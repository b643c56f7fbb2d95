//! `butterfly rules list [--framework F] [--format text|json]`, `rules show ID`, `rules lint`:
//! the compliance rules built into this binary. `lint` checks every JSON path each rule reads
//! against Okta's schema (the catalogue's field indexes) and exits 1 on any problem.

use std::fmt::Write as _;

use anyhow::anyhow;
use serde_json::{Value, json};

use super::{Failure, Format, Outcome};
use crate::catalogue::Catalogue;
use crate::compliance::rule::Scope;
use crate::compliance::{Framework, Profile, Rule, Rules, lint, okta_rules};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every rule: id, severity, kind, title (and the control ids of a framework)
    List {
        /// Only rules mapped to this framework, with its control ids
        #[arg(long, value_name = "F")]
        framework: Option<Framework>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// One rule in full: what it checks, its parameters per profile, controls, remediation
    Show {
        /// The rule's id, e.g. OKTA-PWD-008
        id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Check that every JSON path the rules read exists in Okta's schema
    Lint,
}

fn rules() -> Result<&'static Rules, Failure> {
    okta_rules().map_err(|e| Failure::Failed(anyhow!("{e}")))
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    match args.command {
        Command::List { framework, format } => list(framework, format),
        Command::Show { id, format } => show(&id, format),
        Command::Lint => run_lint(),
    }
}

fn summary_json(rule: &Rule, framework: Option<Framework>) -> Value {
    let controls: serde_json::Map<String, Value> = Framework::ALL
        .iter()
        .filter(|f| framework.is_none_or(|only| only == **f))
        .map(|f| (f.as_str().to_string(), json!(rule.controls(*f))))
        .collect();
    json!({
        "id": rule.id,
        "title": rule.title,
        "family": rule.family,
        "severity": rule.severity.as_str(),
        "kind": rule.kind,
        "controls": controls,
    })
}

fn list(framework: Option<Framework>, format: Format) -> Result<Outcome, Failure> {
    let chosen: Vec<&Rule> = rules()?
        .all()
        .iter()
        .filter(|r| framework.is_none_or(|f| !r.controls(f).is_empty()))
        .collect();
    let out = match format {
        Format::Json => {
            let items: Vec<Value> = chosen.iter().map(|r| summary_json(r, framework)).collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&json!({"rules": items})).unwrap_or_default()
            )
        }
        Format::Text => {
            let mut out = String::new();
            for rule in &chosen {
                let _ = write!(
                    out,
                    "{:<14} {:<8} {:<26} {}",
                    rule.id,
                    rule.severity.as_str(),
                    rule.kind,
                    rule.title
                );
                if let Some(f) = framework {
                    let _ = write!(out, "  [{f} {}]", rule.controls(f).join(", "));
                }
                out.push('\n');
            }
            let _ = writeln!(out, "{} rules", chosen.len());
            out
        }
    };
    print!("{out}");
    Ok(Outcome::Done)
}

fn show(id: &str, format: Format) -> Result<Outcome, Failure> {
    let all = rules()?;
    let Some(rule) = all.get(id) else {
        return Err(Failure::Usage(format!(
            "`{id}` is not a rule; `butterfly rules list` lists them"
        )));
    };
    let params: serde_json::Map<String, Value> = Profile::ALL
        .iter()
        .map(|p| {
            let value = if rule.enabled(*p) {
                rule.params_for(*p)
            } else {
                json!("off")
            };
            (p.as_str().to_string(), value)
        })
        .collect();
    let out = match format {
        Format::Json => {
            let mut value = summary_json(rule, None);
            value["description"] = json!(rule.description.trim());
            value["scope"] = json!(match rule.scope {
                Scope::Resource => "resource",
                Scope::Org => "org",
            });
            value["select"] = json!(rule.select.as_ref().map(|s| s.value.to_string()));
            value["assert"] = json!(rule.assert.value.to_string());
            value["evidence"] = json!(
                rule.evidence
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
            value["remediation"] = json!(rule.remediation.trim());
            value["params"] = Value::Object(params);
            value["stig"] = json!(rule.stig);
            value["urls"] = json!(rule.urls);
            value["source"] = json!(rule.source);
            format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            )
        }
        Format::Text => {
            let mut out = String::new();
            let _ = writeln!(out, "{}  {}", rule.id, rule.title);
            let _ = writeln!(
                out,
                "severity {} · kind {} · family {} · {}",
                rule.severity, rule.kind, rule.family, rule.source
            );
            let _ = writeln!(out, "\n{}\n", rule.description.trim());
            if rule.scope == Scope::Org {
                let _ = writeln!(out, "one result for the whole org");
            }
            if let Some(select) = &rule.select {
                let _ = writeln!(out, "applies to:  {}", select.value);
            }
            for (name, source) in &rule.lets {
                let _ = writeln!(out, "let {name} = {}", source.value);
            }
            let _ = writeln!(out, "passes when: {}", rule.assert.value);
            if !rule.evidence.is_empty() {
                let fields: Vec<String> = rule.evidence.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "evidence:    {}", fields.join(", "));
            }
            let _ = writeln!(out, "\nparameters per profile:");
            for (profile, value) in &params {
                let _ = writeln!(out, "  {profile:<9} {value}");
            }
            let _ = writeln!(out, "\ncontrols:");
            for f in Framework::ALL {
                let ids = rule.controls(f);
                let text = if ids.is_empty() {
                    "not mapped".to_string()
                } else {
                    ids.join(", ")
                };
                let _ = writeln!(out, "  {:<11} {text}", f.as_str());
            }
            if !rule.stig.is_empty() {
                let _ = writeln!(out, "  {:<11} {}", "stig", rule.stig.join(", "));
            }
            let _ = writeln!(out, "\nfix: {}", rule.remediation.trim());
            for url in &rule.urls {
                let _ = writeln!(out, "see: {url}");
            }
            out
        }
    };
    print!("{out}");
    Ok(Outcome::Done)
}

fn run_lint() -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let all = rules()?;
    let problems = lint::lint(catalogue, all.all());
    if problems.is_empty() {
        println!(
            "{} rules: every field they read is in Okta's schema for its kind",
            all.all().len()
        );
        return Ok(Outcome::Done);
    }
    for problem in &problems {
        println!("{problem}");
    }
    Err(Failure::Failed(anyhow!(
        "{} problem{} in the rules",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )))
}
