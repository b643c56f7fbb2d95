//! The simulator's answers against Okta's spec (issue #3, "Running it"): every catalogue kind is
//! listed the way a backup lists it (parents first, every page), every object is read again
//! with its kind's `get`, and each answer must validate against the 200 response schema Okta's
//! spec gives for that operation (`support::openapi`; open enums stay open). All failures of
//! all kinds are reported at once.
//!
//! Where Okta's spec is wrong, or Okta is known to answer otherwise, the exception goes in
//! `SPEC_EXCEPTIONS` with its reason; kinds the fixture cannot exercise go in `NOT_EXERCISED`.

use std::collections::{BTreeMap, BTreeSet};

use butterfly::catalogue::{Catalogue, Endpoint, Kind, Pagination, ParamSource, Shape, Variant};
use butterfly::sim::org::Org;
use serde_json::Value;

use crate::support;
use crate::support::openapi::{Finding, Spec};
use crate::support::sim::{Sim, next_link};

/// The fixture whose answers are checked (switch to `small` once it has every kind).
const FIXTURE: &str = "small";

/// Findings that are not the simulator's fault: `(schema location in the spec, reason)`.
/// A failure whose schema location is listed here is reported as a note instead.
const SPEC_EXCEPTIONS: &[(&str, &str)] = &[(
    "#/components/schemas/UserSchemaAttribute/properties/unique",
    "Okta answers a custom attribute's uniqueness as the string UNIQUE_VALIDATED or NOT_UNIQUE \
     (developer.okta.com's user schema reference); the spec says boolean",
)];

/// Kinds no answer of the fixture exercises, with the reason. A kind listed here that does get
/// checked fails the test, so the list shrinks as fixtures grow.
const NOT_EXERCISED: &[(&str, &str)] = &[];

/// The object itself when a list's path is filled (a list has none).
static NULL: Value = Value::Null;

/// One object as listed: itself, its parent, its grandparent (what path parameters come from).
struct Listed {
    chain: Vec<Value>,
}

struct Contract<'a> {
    sim: &'a Sim,
    client: reqwest::Client,
    spec: Spec<'static>,
    /// Every failure, as one line naming the kind, the request and the finding.
    failures: Vec<String>,
    /// Open enums, unmapped discriminators, write-only fields, allowed exceptions.
    notes: BTreeSet<String>,
    /// Answers with at least one object that were validated, per kind.
    validated: BTreeMap<String, usize>,
    exceptions_used: BTreeSet<&'static str>,
    /// Kinds of which the fixture has no object: a 404 for one of them is the right answer.
    empty_kinds: BTreeSet<String>,
}

/// `endpoint`'s path with every placeholder the chain can fill filled in; `None` when one is
/// left (a value the objects do not carry).
fn fill(
    endpoint: &Endpoint,
    params: &BTreeMap<String, ParamSource>,
    chain: &[&Value],
) -> Option<String> {
    let mut path = endpoint.display_path();
    for (name, source) in params {
        let placeholder = format!("{{{name}}}");
        if !path.contains(&placeholder) {
            continue;
        }
        let Some(value) = chain.get(source.depth).and_then(|o| source.path.get(o)) else {
            continue;
        };
        let mut text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if source.last_segment {
            text = text.rsplit('/').next().unwrap_or_default().to_string();
        }
        path = path.replace(&placeholder, &butterfly::sim::route::encode(&text));
    }
    (!path.contains('{')).then_some(path)
}

impl Contract<'_> {
    /// GETs `url`, validates the answer against the 200 schema of `endpoint` in the spec and
    /// returns the body and the `next` link (header or body), or `None` on a non-200 answer.
    async fn fetch(
        &mut self,
        kind: &str,
        role: &str,
        endpoint: &Endpoint,
        url: &str,
        items: impl Fn(&Value) -> usize,
    ) -> Option<(Value, Option<String>)> {
        let response = self.client.get(url).send().await.expect("GET");
        let status = response.status().as_u16();
        let next = next_link(response.headers());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let request = format!(
            "{kind} {role} GET {}",
            url.trim_start_matches(&self.sim.url)
        );
        if status == 404 && self.empty_kinds.contains(kind) {
            return None;
        }
        if status != 200 {
            self.failures
                .push(format!("{request}: status {status}, expected 200: {body}"));
            return None;
        }
        match self.spec.response_schema("GET", &endpoint.path, "200") {
            Err(problem) => self.failures.push(format!("{request}: {problem}")),
            Ok((schema, at)) => {
                let report = self.spec.validate(schema, &at, &body);
                for finding in report.failures {
                    self.failure(&request, finding);
                }
                for finding in report.notes {
                    self.notes.insert(format!("{request}: {finding}"));
                }
                if items(&body) > 0 {
                    *self.validated.entry(kind.to_string()).or_default() += 1;
                }
            }
        }
        let body_next = body
            .pointer("/_links/next/href")
            .and_then(Value::as_str)
            .map(str::to_string);
        Some((body, next.or(body_next)))
    }

    fn failure(&mut self, request: &str, finding: Finding) {
        match SPEC_EXCEPTIONS
            .iter()
            .find(|(schema, _)| finding.schema == *schema)
        {
            Some((schema, reason)) => {
                self.exceptions_used.insert(schema);
                self.notes
                    .insert(format!("{request}: {finding} — allowed: {reason}"));
            }
            None => self.failures.push(format!("{request}: {finding}")),
        }
    }

    /// Every page of `variant`'s list under one parent chain; the objects listed.
    async fn list(&mut self, kind: &Kind, variant: &Variant, parents: &[&Value]) -> Vec<Value> {
        let Some(list) = &variant.endpoints.list else {
            return Vec::new();
        };
        let mut chain = vec![&NULL];
        chain.extend_from_slice(parents);
        let Some(path) = fill(&list.endpoint, &variant.params, &chain) else {
            self.failures.push(format!(
                "{} list {}: a path parameter the parent does not carry",
                kind.name, list.endpoint.path
            ));
            return Vec::new();
        };
        let values: Vec<Option<&str>> = match &list.each {
            Some(each) => each
                .values
                .iter()
                .map(|v| (!v.is_empty()).then_some(v.as_str()))
                .collect(),
            None => vec![None],
        };
        let mut objects = Vec::new();
        for value in values {
            let mut path = path.clone();
            let mut query = Vec::new();
            if let (Some(each), Some(value)) = (&list.each, value) {
                let placeholder = format!("{{{}}}", each.param);
                if path.contains(&placeholder) {
                    path = path.replace(&placeholder, &butterfly::sim::route::encode(value));
                } else {
                    query.push(format!(
                        "{}={}",
                        each.param,
                        butterfly::sim::route::encode(value)
                    ));
                }
            }
            if list.pagination != Pagination::None {
                query.push("limit=2".to_string());
            }
            let mut url = self.sim.at(&path);
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            let take = |body: &Value| -> Vec<Value> {
                match &list.items {
                    Some(key) => body[key].as_array().cloned().unwrap_or_default(),
                    None => body.as_array().cloned().unwrap_or_default(),
                }
            };
            loop {
                let Some((body, next)) = self
                    .fetch(&kind.name, "list", &list.endpoint, &url, |b| take(b).len())
                    .await
                else {
                    break;
                };
                objects.extend(take(&body));
                match next {
                    Some(next) => url = next,
                    None => break,
                }
            }
        }
        objects
    }

    /// Reads one object again with `variant`'s get.
    async fn get(&mut self, kind: &Kind, variant: &Variant, chain: &[&Value]) -> Option<Value> {
        let get = variant.endpoints.get.as_ref()?;
        let Some(path) = fill(get, &variant.params, chain) else {
            if self.empty_kinds.contains(&kind.name) {
                return None;
            }
            self.failures.push(format!(
                "{} get {}: a path parameter the object does not carry",
                kind.name, get.path
            ));
            return None;
        };
        let url = self.sim.at(&path);
        self.fetch(&kind.name, "get", get, &url, |b| usize::from(b.is_object()))
            .await
            .map(|(body, _)| body)
    }
}

#[tokio::test]
async fn every_answer_validates_against_oktas_response_schemas() {
    let Some(doc) = support::okta_spec() else {
        return;
    };
    let catalogue = Catalogue::okta().unwrap();
    let sim = Sim::start_unlimited(FIXTURE);
    let fixture = Org::load_tree(
        catalogue,
        &support::root().join("fixtures/orgs").join(FIXTURE),
    )
    .unwrap();
    let mut contract = Contract {
        sim: &sim,
        client: sim.ssws(),
        spec: Spec::new(doc),
        failures: Vec::new(),
        notes: BTreeSet::new(),
        validated: BTreeMap::new(),
        exceptions_used: BTreeSet::new(),
        empty_kinds: catalogue
            .kinds()
            .iter()
            .filter(|k| fixture.all(&k.name).is_empty())
            .map(|k| k.name.clone())
            .collect(),
    };
    let mut listed: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
    for kind_name in catalogue.restore_order().unwrap() {
        let kind = catalogue.kind(&kind_name).unwrap();
        for variant in &kind.variants {
            // The parent chains this variant's objects hang under.
            let parents: Vec<Vec<Value>> = match &variant.parent {
                None => vec![Vec::new()],
                Some(parent) => listed
                    .get(parent)
                    .into_iter()
                    .flatten()
                    .filter(|p| {
                        variant
                            .parent_when
                            .as_ref()
                            .is_none_or(|w| w.matches(&p.chain[0]))
                    })
                    .map(|p| p.chain.clone())
                    .collect(),
            };
            if let Some(parents_from) = &variant.parents_from {
                let url = sim.at(&parents_from.endpoint.display_path());
                let key = parents_from.items.clone();
                contract
                    .fetch(
                        &kind.name,
                        "parents_from",
                        &parents_from.endpoint,
                        &url,
                        |b| {
                            key.as_ref()
                                .and_then(|k| b[k].as_array())
                                .map_or(0, Vec::len)
                        },
                    )
                    .await;
            }
            for parent_chain in parents {
                let parent_refs: Vec<&Value> = parent_chain.iter().collect();
                let objects = if variant.endpoints.list.is_some() {
                    contract.list(kind, variant, &parent_refs).await
                } else if kind.shape == Shape::Singleton {
                    // A singleton is read with get alone.
                    let mut chain = vec![&NULL];
                    chain.extend_from_slice(&parent_refs);
                    contract
                        .get(kind, variant, &chain)
                        .await
                        .into_iter()
                        .collect()
                } else {
                    Vec::new()
                };
                for object in objects {
                    if variant.endpoints.list.is_some()
                        && !matches!(kind.shape, Shape::Relationship { .. })
                    {
                        let mut chain = vec![&object];
                        chain.extend_from_slice(&parent_refs);
                        contract.get(kind, variant, &chain).await;
                    }
                    let mut chain = vec![object.clone()];
                    chain.extend(parent_chain.iter().cloned());
                    listed
                        .entry(kind.name.clone())
                        .or_default()
                        .push(Listed { chain });
                }
            }
        }
    }

    let Contract {
        failures,
        notes,
        validated,
        exceptions_used,
        ..
    } = contract;
    println!("fixture `{FIXTURE}`: answers with objects validated per kind:");
    let mut unexercised = Vec::new();
    for kind in catalogue.kinds() {
        match validated.get(&kind.name) {
            Some(n) => println!("  {:<36} {n}", kind.name),
            None => unexercised.push(kind.name.clone()),
        }
    }
    println!("not exercised: {}", unexercised.join(", "));
    println!("notes ({}):", notes.len());
    for note in &notes {
        println!("  {note}");
    }
    for (schema, _) in SPEC_EXCEPTIONS {
        if !exceptions_used.contains(schema) {
            println!("SPEC_EXCEPTIONS entry not needed by `{FIXTURE}`: {schema}");
        }
    }

    let mut problems = failures;
    let listed_kinds: BTreeSet<&str> = NOT_EXERCISED.iter().map(|(k, _)| *k).collect();
    for kind in &unexercised {
        if !listed_kinds.contains(kind.as_str()) {
            problems.push(format!(
                "{kind}: no answer of `{FIXTURE}` exercised it, and NOT_EXERCISED gives no reason"
            ));
        }
    }
    for (kind, _) in NOT_EXERCISED {
        if catalogue.kind(kind).is_none() {
            problems.push(format!("NOT_EXERCISED names `{kind}`, which is not a kind"));
        } else if validated.contains_key(*kind) {
            problems.push(format!(
                "{kind}: exercised by `{FIXTURE}`; remove it from NOT_EXERCISED"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems with the simulator's answers against Okta's spec:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The validator is no rubber stamp: real answers, broken on purpose, fail exactly where they
/// were broken, and an unknown discriminator value stays open.
#[tokio::test]
async fn answers_broken_on_purpose_fail_where_they_were_broken() {
    let Some(doc) = support::okta_spec() else {
        return;
    };
    let spec = Spec::new(doc);
    let sim = Sim::start_unlimited(FIXTURE);
    let check = |path: &str, body: &Value| {
        let (schema, at) = spec.response_schema("GET", path, "200").unwrap();
        spec.validate(schema, &at, body)
    };

    let mut users = sim.get_json("/api/v1/users?limit=1").await;
    assert!(check("/api/v1/users", &users).failures.is_empty());
    users[0]["profile"]["login"] = Value::from(5);
    users[0]["created"] = Value::from("yesterday");
    let report = check("/api/v1/users", &users);
    let found: Vec<(&str, &str)> = report
        .failures
        .iter()
        .map(|f| (f.pointer.as_str(), f.schema.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("/0/created", "#/components/schemas/User/properties/created"),
            (
                "/0/profile/login",
                "#/components/schemas/UserProfile/properties/login"
            ),
        ],
        "{:#?}",
        report.failures
    );

    let mut policies = sim.get_json("/api/v1/policies?type=PASSWORD").await;
    assert!(check("/api/v1/policies", &policies).failures.is_empty());
    policies[0]["type"] = Value::from("A_TYPE_OKTA_ADDS_LATER");
    let report = check("/api/v1/policies", &policies);
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.pointer == "/0" && n.message.contains("A_TYPE_OKTA_ADDS_LATER")),
        "{:#?}",
        report.notes
    );
    policies[0]["priority"] = Value::from("first");
    let report = check("/api/v1/policies", &policies);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.pointer == "/0/priority" && f.message.starts_with("expected integer")),
        "{:#?}",
        report.failures
    );
}

/// The request side, one write per kind: a body built from Okta's own example for the kind
/// (`../shared/okta/examples.json`) is accepted by the simulator's create, or refused with
/// E0000001 naming a field. What it accepts answers in the shape of Okta's response schemas,
/// both the create's answer and a get of the new object.
#[tokio::test]
async fn okta_example_bodies_are_accepted_or_refused_naming_a_field() {
    let (Some(doc), Some(examples)) = (support::okta_spec(), support::okta_examples()) else {
        return;
    };
    let catalogue = Catalogue::okta().unwrap();
    let fixture = Org::load_tree(
        catalogue,
        &support::root().join("fixtures/orgs").join(FIXTURE),
    )
    .unwrap();
    let sim = Sim::start_unlimited(FIXTURE);
    let spec = Spec::new(doc);
    let client = sim.ssws();
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for (key, kind_name) in support::EXAMPLES {
        let kind = catalogue.kind(kind_name).unwrap();
        let mut example = examples[*key].clone();
        let Some(variant) = kind
            .variants
            .iter()
            .find(|v| v.when.as_ref().is_none_or(|w| w.matches(&example)))
        else {
            outcomes.push(format!("{key}: no variant of {kind_name} takes it"));
            continue;
        };
        let Some(create) = &variant.endpoints.create else {
            outcomes.push(format!("{key}: {kind_name} has no create"));
            continue;
        };
        // The parent: the first fixture object of the parent kind the variant accepts.
        let parent = variant.parent.as_ref().map(|parent| {
            fixture.all(parent).into_iter().find(|p| {
                variant
                    .parent_when
                    .as_ref()
                    .is_none_or(|w| w.matches(&p.body()))
            })
        });
        let parent_body = match parent {
            Some(None) => {
                outcomes.push(format!("{key}: the fixture has no parent for it"));
                continue;
            }
            Some(Some(p)) => p.body(),
            None => Value::Null,
        };
        // A member named in the path (a group assigned to an app) must exist in the org:
        // the example's own id is another org's, so a fixture object of the kind stands in.
        for source in variant.params.values().filter(|s| s.depth == 0) {
            if let Some(reference) = kind.references.iter().find(|r| r.path == source.path)
                && let Some(member) = fixture.all(&reference.kind).first()
                && let Value::Object(map) = &mut example
            {
                map.insert(source.path.to_string(), Value::from(&*member.id));
            }
        }
        // Where the example itself breaks the spec's request schema, an answer that repeats
        // the break is the example's fault, not the simulator's.
        let inherited: BTreeSet<(String, String)> = spec
            .request_schema(create.method.as_str(), &create.path)
            .map(|(schema, at)| spec.validate(schema, &at, &example).failures)
            .unwrap_or_default()
            .into_iter()
            .map(|f| (f.pointer, f.message))
            .collect();
        let example = &example;
        let chain = [example, &parent_body];
        let Some(path) = fill(create, &variant.params, &chain) else {
            outcomes.push(format!("{key}: {create} needs a value the example lacks"));
            continue;
        };
        let mut url = sim.at(&path);
        if !create.query.is_empty() {
            let query: Vec<String> = create
                .query
                .iter()
                .map(|(k, v)| format!("{k}={}", butterfly::sim::route::encode(v)))
                .collect();
            url = format!("{url}?{}", query.join("&"));
        }
        let method = reqwest::Method::from_bytes(create.method.as_str().as_bytes()).unwrap();
        let response = client
            .request(method, &url)
            .json(example)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let request = format!("{key}: {create}");
        if (200..300).contains(&status) {
            outcomes.push(format!("{key}: accepted ({status})"));
            let code = status.to_string();
            let own = |f: &Finding| !inherited.contains(&(f.pointer.clone(), f.message.clone()));
            if status == 204 {
                if !body.is_null() {
                    failures.push(format!("{request}: a 204 answer with a body: {body}"));
                }
            } else {
                match spec.response_schema(create.method.as_str(), &create.path, &code) {
                    Ok((schema, at)) => {
                        let report = spec.validate(schema, &at, &body);
                        failures.extend(
                            report
                                .failures
                                .iter()
                                .filter(|f| own(f))
                                .map(|f| format!("{request} answer: {f}")),
                        );
                    }
                    Err(problem) => failures.push(format!("{request}: {problem}")),
                }
            }
            let created_chain = [&body, &parent_body];
            if let Some(get) = &variant.endpoints.get
                && let Some(get_path) = fill(get, &variant.params, &created_chain)
            {
                let read = sim.get(&get_path).await;
                let read_status = read.status().as_u16();
                let read_body: Value = read.json().await.unwrap_or(Value::Null);
                if read_status != 200 {
                    failures.push(format!(
                        "{request}: GET {get_path} of the new object: status {read_status}: {read_body}"
                    ));
                    continue;
                }
                let (schema, at) = spec.response_schema("GET", &get.path, "200").unwrap();
                let report = spec.validate(schema, &at, &read_body);
                failures.extend(
                    report
                        .failures
                        .iter()
                        .filter(|f| own(f))
                        .map(|f| format!("{request} then GET {get_path}: {f}")),
                );
            }
        } else {
            let cause = body
                .pointer("/errorCauses/0/errorSummary")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let names_a_field = cause
                .split_once(": ")
                .is_some_and(|(field, _)| !field.is_empty() && !field.contains(' '));
            if status == 400 && body["errorCode"] == "E0000001" && names_a_field {
                outcomes.push(format!("{key}: refused, {cause}"));
            } else {
                failures.push(format!(
                    "{request}: status {status}, neither accepted nor refused with E0000001 naming a field: {body}"
                ));
            }
        }
    }
    println!("Okta's examples sent to the simulator's create:");
    for outcome in &outcomes {
        println!("  {outcome}");
    }
    assert!(
        failures.is_empty(),
        "{} problems writing Okta's examples:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
