//! Reading every object of the chosen kinds from an org, as a backup needs them: each kind's
//! list (every page, Okta's maximum page size, every value of an `each` parameter such as a
//! policy type), nested kinds under each parent (parameters bound from the parent's and
//! grandparent's answers, `parent_when` honoured, `parents_from` indexes used), partial lists
//! read again item by item, and singletons read with `get`.
//!
//! Kinds run concurrently: a top-level kind starts at once, a nested kind's lists start when
//! its parent kind is complete, and every request goes through the client's budgets. What is
//! read is sent page by page on a channel ([`Event`]), so a large org streams to disk instead
//! of piling up here; only the few fields children need are kept of each parent.
//!
//! A kind fails as a whole ([`KindFailure`]) when any of its requests fails for good; its
//! nested kinds then fail too, naming it. A 404 under one parent (deleted while the backup
//! ran) skips that parent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::client::Client;
use super::error::{Cause, ClientError};
use crate::catalogue::{
    Catalogue, Endpoint, FieldPath, Kind, ListEndpoint, Pagination, ParamSource, Segment, Shape,
    Variant,
};

/// An object read, numbered so its children can name it.
pub type NodeId = u64;

/// What the walk sends.
#[derive(Debug)]
pub enum Event {
    /// One page of a kind's objects under one parent (or at the top level). For relationship
    /// kinds, `last` marks the parent's final page.
    Page {
        kind: String,
        variant: usize,
        parent: Option<NodeId>,
        items: Vec<(NodeId, Value)>,
        last: bool,
    },
    /// A kind is finished: every object of it has been sent, or it failed.
    KindDone {
        kind: String,
        outcome: Result<(), KindFailure>,
    },
}

/// Why a kind could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KindFailure {
    #[error("the token lacks the scope {scopes}")]
    ScopeMissing { scopes: String },
    #[error("{error}")]
    Request {
        cause: Cause,
        error: Arc<ClientError>,
    },
    #[error("its parent kind {parent} could not be read")]
    Parent { parent: String },
    #[error("{url}: the answer is not a list ({problem})")]
    NotAList { url: String, problem: String },
    /// The reader of the walk's pages went away (the backup stopped on an error of its own,
    /// which is the one reported).
    #[error("not read to the end: the backup stopped reading")]
    Stopped,
}

impl KindFailure {
    /// The org does not have the feature (E0000015, or 404 E0000008 on the list itself).
    pub fn is_unavailable(&self) -> bool {
        match self {
            KindFailure::Request { cause, error } => {
                *cause == Cause::FeatureNotEnabled
                    || error
                        .api()
                        .is_some_and(|e| e.code.as_deref() == Some("E0000008"))
            }
            _ => false,
        }
    }

    /// What a user can do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            KindFailure::ScopeMissing { .. } => {
                "grant the scope to the service app (Admin Console > Applications > the app > Okta API Scopes) and add it to `scopes` in butterfly.toml"
            }
            KindFailure::Request { cause, .. } => match cause {
                Cause::ScopeNotGranted => {
                    "grant the scope to the service app (Okta API Scopes) and request it in butterfly.toml"
                }
                Cause::NotPermitted => {
                    "assign the service app an admin role that can read this kind (Admin Console > Security > Administrators)"
                }
                Cause::FeatureNotEnabled => {
                    "the org does not have this feature; nothing to back up unless it is enabled"
                }
                Cause::Unauthenticated => "check the credentials (butterfly test-connection)",
                Cause::RateLimited | Cause::Transient => {
                    "Okta kept failing; run the backup again later"
                }
                Cause::NotFound | Cause::Refused => {
                    "see the error; run with --log debug for every request"
                }
            },
            KindFailure::Parent { .. } => "fix the parent kind first",
            KindFailure::NotAList { .. } => "report this: Okta answered in an unexpected shape",
            KindFailure::Stopped => "see the error the backup stopped on",
        }
    }
}

/// What to read.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Kinds to read (their ancestors are added: children are placed under them).
    pub kinds: BTreeSet<String>,
    /// The scopes the token holds (None: an API token, whose rights are the admin's).
    pub granted: Option<Vec<String>>,
}

impl Plan {
    /// The kinds read: the chosen ones and their ancestors, in restore order.
    pub fn closure(&self, catalogue: &Catalogue) -> Vec<String> {
        let mut wanted = self.kinds.clone();
        let mut frontier: Vec<String> = wanted.iter().cloned().collect();
        while let Some(name) = frontier.pop() {
            if let Some(kind) = catalogue.kind(&name) {
                for parent in kind.parents() {
                    if wanted.insert(parent.to_string()) {
                        frontier.push(parent.to_string());
                    }
                }
            }
        }
        catalogue
            .restore_order()
            .unwrap_or_else(|_| catalogue.kinds().iter().map(|k| k.name.clone()).collect())
            .into_iter()
            .filter(|k| wanted.contains(k))
            .collect()
    }
}

/// The read scopes of `kind` that `granted` does not cover (a `.manage` scope covers its
/// read).
pub fn missing_read_scopes(kind: &Kind, granted: &[String]) -> Vec<String> {
    kind.scopes
        .read
        .iter()
        .filter(|scope| {
            !granted
                .iter()
                .any(|g| g == *scope || *g == scope.replace(".read", ".manage"))
        })
        .cloned()
        .collect()
}

/// True when `granted` covers every read scope of `kind`.
pub fn has_read_scopes(kind: &Kind, granted: &[String]) -> bool {
    missing_read_scopes(kind, granted).is_empty()
}

/// A parent as its children see it: the fields their parameters and `parent_when` read, and
/// its own parent.
#[derive(Debug)]
struct ParentView {
    /// Compact JSON: a parsed `Value` of even one member costs hundreds of bytes, and a
    /// backup may keep one per user.
    view: Box<str>,
    parent: Option<NodeId>,
}

/// One list to run: a variant of a kind under one parent chain.
struct Job {
    kind: String,
    variant: usize,
    parent: Option<NodeId>,
    /// The parent chain's views, parent first.
    ancestors: Vec<Arc<Value>>,
}

struct Shared {
    catalogue: &'static Catalogue,
    client: Arc<Client>,
    sender: mpsc::Sender<Event>,
    next_node: std::sync::atomic::AtomicU64,
    /// Fields to keep of each kind's objects for its children.
    keep: HashMap<String, Vec<FieldPath>>,
    parents: std::sync::Mutex<HashMap<NodeId, ParentView>>,
    /// Nodes of each parent kind, in order read.
    by_kind: std::sync::Mutex<HashMap<String, Vec<NodeId>>>,
    /// Raw id → node, for kinds that `parents_from` indexes name.
    by_id: std::sync::Mutex<HashMap<(String, String), NodeId>>,
    /// Lists running at once per rate-limit bucket: a bucket's requests wait for its budget
    /// anyway, and a list that has read a page holds it until the collector takes it, so this
    /// bounds the pages held (thousands of nested lists are started at once) without one
    /// bucket's waiting lists holding up another bucket's.
    running: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// Lists of one rate-limit bucket running at once.
const LISTS_PER_BUCKET: usize = 8;

/// Reads `plan` from the org, sending what it reads on `sender`. Returns when every kind is
/// done (each with a `KindDone`).
pub async fn walk(
    catalogue: &'static Catalogue,
    client: Arc<Client>,
    plan: &Plan,
    sender: mpsc::Sender<Event>,
) {
    let kinds = plan.closure(catalogue);
    let selected: BTreeSet<&str> = kinds.iter().map(String::as_str).collect();
    let shared = Shared {
        catalogue,
        client,
        sender,
        next_node: std::sync::atomic::AtomicU64::new(1),
        keep: fields_children_read(catalogue, &selected),
        parents: Default::default(),
        by_kind: Default::default(),
        by_id: Default::default(),
        running: Default::default(),
    };
    // Kinds waiting for a parent kind, and what is left of each running kind.
    let mut waiting: Vec<&str> = Vec::new();
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut done: HashMap<String, bool> = HashMap::new();
    let mut jobs: JoinSet<(String, Result<(), KindFailure>)> = JoinSet::new();
    let shared = Arc::new(shared);

    for name in &kinds {
        let Some(kind) = catalogue.kind(name) else {
            continue;
        };
        if let Some(granted) = &plan.granted
            && !has_read_scopes(kind, granted)
        {
            let failure = KindFailure::ScopeMissing {
                scopes: missing_read_scopes(kind, granted).join(" "),
            };
            finish(&shared, name, Err(failure)).await;
            done.insert(name.clone(), false);
            continue;
        }
        waiting.push(name);
    }
    loop {
        // Start every waiting kind whose parents are all done.
        let mut still = Vec::new();
        for name in waiting {
            let Some(kind) = catalogue.kind(name) else {
                continue;
            };
            let parents = kind.parents();
            if parents
                .iter()
                .any(|p| selected.contains(p) && !done.contains_key(*p))
            {
                still.push(name);
                continue;
            }
            if let Some(parent) = parents
                .iter()
                .find(|p| selected.contains(*p) && done.get(**p) == Some(&false))
            {
                finish(
                    &shared,
                    name,
                    Err(KindFailure::Parent {
                        parent: parent.to_string(),
                    }),
                )
                .await;
                done.insert(name.to_string(), false);
                continue;
            }
            let mut state = Running::default();
            for job in plan_jobs(&shared, kind).await {
                match job {
                    Ok(job) => {
                        state.pending += 1;
                        let shared = Arc::clone(&shared);
                        jobs.spawn(run_job(shared, job));
                    }
                    Err(failure) => state.failure = state.failure.or(Some(failure)),
                }
            }
            if state.pending == 0 {
                let outcome = state.failure.map_or(Ok(()), Err);
                done.insert(name.to_string(), outcome.is_ok());
                finish(&shared, name, outcome).await;
            } else {
                running.insert(name.to_string(), state);
            }
        }
        waiting = still;
        if running.is_empty() && waiting.is_empty() {
            break;
        }
        let Some(joined) = jobs.join_next().await else {
            // Nothing runs and kinds still wait: their parents can never finish.
            for name in waiting {
                finish(
                    &shared,
                    name,
                    Err(KindFailure::Parent {
                        parent: "(unknown)".into(),
                    }),
                )
                .await;
            }
            break;
        };
        let (name, outcome) = match joined {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "a listing task failed");
                continue;
            }
        };
        if let Some(state) = running.get_mut(&name) {
            state.pending -= 1;
            if let Err(failure) = outcome {
                state.failure.get_or_insert(failure);
            }
            if state.pending == 0
                && let Some(state) = running.remove(&name)
            {
                let outcome = state.failure.map_or(Ok(()), Err);
                done.insert(name.clone(), outcome.is_ok());
                finish(&shared, &name, outcome).await;
            }
        }
    }
}

#[derive(Default)]
struct Running {
    pending: usize,
    failure: Option<KindFailure>,
}

async fn finish(shared: &Shared, kind: &str, outcome: Result<(), KindFailure>) {
    if let Err(failure) = &outcome {
        tracing::warn!(kind, %failure, "kind not read");
    }
    let _ = shared
        .sender
        .send(Event::KindDone {
            kind: kind.to_string(),
            outcome,
        })
        .await;
}

/// The jobs of a kind whose parents are done: one per variant and parent.
async fn plan_jobs(shared: &Arc<Shared>, kind: &Kind) -> Vec<Result<Job, KindFailure>> {
    let mut out = Vec::new();
    for (index, variant) in kind.variants.iter().enumerate() {
        let readable = variant.endpoints.list.is_some()
            || (kind.shape == Shape::Singleton && variant.endpoints.get.is_some());
        if !readable {
            continue;
        }
        let Some(parent_kind) = &variant.parent else {
            out.push(Ok(Job {
                kind: kind.name.clone(),
                variant: index,
                parent: None,
                ancestors: Vec::new(),
            }));
            continue;
        };
        let parents: Vec<NodeId> = match &variant.parents_from {
            Some(index_list) => match read_index(shared, index_list, parent_kind).await {
                Ok(nodes) => nodes,
                Err(failure) => {
                    out.push(Err(failure));
                    continue;
                }
            },
            None => shared
                .by_kind
                .lock()
                .map(|m| m.get(parent_kind).cloned().unwrap_or_default())
                .unwrap_or_default(),
        };
        let views = shared.parents.lock();
        let Ok(views) = views else { continue };
        let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
        for node in parents {
            let Some(view) = views.get(&node) else {
                continue;
            };
            if variant
                .parent_when
                .as_ref()
                .is_some_and(|when| !when.matches(&parse(&view.view)))
            {
                continue;
            }
            let mut ancestors = vec![Arc::new(parse(&view.view))];
            let mut up = view.parent;
            while let Some(id) = up {
                let Some(v) = views.get(&id) else { break };
                ancestors.push(Arc::new(parse(&v.view)));
                up = v.parent;
            }
            out.push(Ok(Job {
                kind: kind.name.clone(),
                variant: index,
                parent: Some(node),
                ancestors,
            }));
        }
    }
    out
}

/// Reads a `parents_from` index (users holding admin roles) and finds those parents' nodes.
async fn read_index(
    shared: &Shared,
    list: &ListEndpoint,
    parent_kind: &str,
) -> Result<Vec<NodeId>, KindFailure> {
    let mut url = Some(list_url(
        &shared.client,
        list,
        &list.endpoint.display_path(),
        None,
    ));
    let mut nodes = Vec::new();
    while let Some(current) = url.take() {
        let answer = shared
            .client
            .get(&current, &list.endpoint.bucket)
            .await
            .map_err(failure)?;
        for item in items(&answer.body, list.items.as_deref(), &current)? {
            let Some(id) = item.get("id").and_then(Value::as_str) else {
                continue;
            };
            let found = shared
                .by_id
                .lock()
                .ok()
                .and_then(|m| m.get(&(parent_kind.to_string(), id.to_string())).copied());
            match found {
                Some(node) => nodes.push(node),
                None => tracing::warn!(
                    parent_kind,
                    id,
                    "an index names an object the backup did not read"
                ),
            }
        }
        url = answer.next;
    }
    Ok(nodes)
}

fn failure(error: ClientError) -> KindFailure {
    let cause = error.api().map_or(Cause::Transient, |e| e.cause());
    KindFailure::Request {
        cause,
        error: Arc::new(error),
    }
}

/// Runs one job to its end.
async fn run_job(shared: Arc<Shared>, job: Job) -> (String, Result<(), KindFailure>) {
    let name = job.kind.clone();
    let bucket = shared
        .catalogue
        .kind(&job.kind)
        .and_then(|k| k.variants.get(job.variant))
        .and_then(|v| {
            v.endpoints
                .list
                .as_ref()
                .map(|l| l.endpoint.bucket.clone())
                .or_else(|| v.endpoints.get.as_ref().map(|g| g.bucket.clone()))
        })
        .unwrap_or_default();
    let gate = shared
        .running
        .lock()
        .map(|mut m| {
            Arc::clone(
                m.entry(bucket)
                    .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(LISTS_PER_BUCKET))),
            )
        })
        .ok();
    // The semaphore is never closed; without it (a poisoned map) the list just runs.
    let _turn = match &gate {
        Some(gate) => gate.acquire().await.ok(),
        None => None,
    };
    let result = run(&shared, &job).await;
    (name, result)
}

async fn run(shared: &Shared, job: &Job) -> Result<(), KindFailure> {
    let Some(kind) = shared.catalogue.kind(&job.kind) else {
        return Ok(());
    };
    let variant = &kind.variants[job.variant];
    let ancestors: Vec<&Value> = job.ancestors.iter().map(|a| a.as_ref()).collect();
    let Some(list) = &variant.endpoints.list else {
        // A singleton read with get.
        let Some(get) = &variant.endpoints.get else {
            return Ok(());
        };
        let Some(path) = bind(get, variant, None, &ancestors) else {
            return Ok(());
        };
        let url = shared.client.org().join(&path);
        match shared.client.get(&url, &get.bucket).await {
            Ok(answer) => send_page(shared, kind, job, vec![answer.body], true).await,
            Err(e) if under_parent_gone(&e, job) || is_absent_singleton(&e) => {
                send_page(shared, kind, job, Vec::new(), true).await
            }
            Err(e) => Err(failure(e)),
        }?;
        return Ok(());
    };
    let Some(path) = bind(&list.endpoint, variant, None, &ancestors) else {
        tracing::warn!(
            kind = kind.name,
            "a parameter could not be bound; parent skipped"
        );
        return send_page(shared, kind, job, Vec::new(), true).await;
    };
    let values: Vec<Option<&str>> = match &list.each {
        Some(each) => each
            .values
            .iter()
            .map(|v| (!v.is_empty()).then_some(v.as_str()))
            .collect(),
        None => vec![None],
    };
    let count = values.len();
    for (index, value) in values.into_iter().enumerate() {
        let each = list
            .each
            .as_ref()
            .zip(value)
            .map(|(e, v)| (e.param.as_str(), v));
        let mut url = Some(list_url(&shared.client, list, &path, each));
        while let Some(current) = url.take() {
            let answer = match shared.client.get(&current, &list.endpoint.bucket).await {
                Ok(answer) => answer,
                Err(e) if under_parent_gone(&e, job) => {
                    return send_page(shared, kind, job, Vec::new(), true).await;
                }
                Err(e) => return Err(failure(e)),
            };
            let mut page = items(&answer.body, list.items.as_deref(), &current)?;
            if list.partial {
                page = read_whole(shared, kind, variant, &ancestors, page).await?;
            }
            let next = answer.next.filter(|next| {
                let owned = shared.client.org().owns(next);
                if !owned {
                    tracing::warn!(
                        url = current,
                        next,
                        "a next link outside the org is not followed"
                    );
                }
                owned
            });
            let last = next.is_none() && index + 1 == count;
            send_page(shared, kind, job, page, last).await?;
            url = next;
        }
    }
    Ok(())
}

/// A 404 while listing under a parent: the parent was deleted during the backup.
fn under_parent_gone(error: &ClientError, job: &Job) -> bool {
    job.parent.is_some()
        && error
            .api()
            .is_some_and(|e| e.cause() == Cause::NotFound && e.code.as_deref() != Some("E0000008"))
}

/// A singleton that does not exist (404 E0000007): none to back up.
fn is_absent_singleton(error: &ClientError) -> bool {
    error
        .api()
        .is_some_and(|e| e.status == 404 && e.code.as_deref() == Some("E0000007"))
}

/// Each item of a partial list read again with the kind's `get`.
async fn read_whole(
    shared: &Shared,
    kind: &Kind,
    variant: &Variant,
    ancestors: &[&Value],
    page: Vec<Value>,
) -> Result<Vec<Value>, KindFailure> {
    let Some(get) = &variant.endpoints.get else {
        return Ok(page);
    };
    let mut whole = Vec::with_capacity(page.len());
    for item in page {
        let Some(path) = bind(get, variant, Some(&item), ancestors) else {
            tracing::warn!(
                kind = kind.name,
                "a listed item cannot be read again; kept as listed"
            );
            whole.push(item);
            continue;
        };
        let url = shared.client.org().join(&path);
        match shared.client.get(&url, &get.bucket).await {
            Ok(answer) => whole.push(answer.body),
            // Deleted since it was listed.
            Err(e) if e.api().is_some_and(|a| a.cause() == Cause::NotFound) => {}
            Err(e) => return Err(failure(e)),
        }
    }
    Ok(whole)
}

/// Sends a page, numbering its objects and keeping what their children need.
async fn send_page(
    shared: &Shared,
    kind: &Kind,
    job: &Job,
    page: Vec<Value>,
    last: bool,
) -> Result<(), KindFailure> {
    let keep = shared.keep.get(&kind.name);
    let mut items = Vec::with_capacity(page.len());
    for raw in page {
        let node = shared
            .next_node
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(keep) = keep {
            let view = FieldPath::project(&raw, keep).to_string().into_boxed_str();
            if let Some(id) = raw.get("id").and_then(Value::as_str)
                && let Ok(mut by_id) = shared.by_id.lock()
            {
                by_id.insert((kind.name.clone(), id.to_string()), node);
            }
            if let Ok(mut parents) = shared.parents.lock() {
                parents.insert(
                    node,
                    ParentView {
                        view,
                        parent: job.parent,
                    },
                );
            }
            if let Ok(mut by_kind) = shared.by_kind.lock() {
                by_kind.entry(kind.name.clone()).or_default().push(node);
            }
        }
        items.push((node, raw));
    }
    shared
        .sender
        .send(Event::Page {
            kind: kind.name.clone(),
            variant: job.variant,
            parent: job.parent,
            items,
            last,
        })
        .await
        .map_err(|_| KindFailure::Stopped)
}

/// The array of a list answer.
fn items(body: &Value, key: Option<&str>, url: &str) -> Result<Vec<Value>, KindFailure> {
    let found = match key {
        Some(key) => body.get(key),
        None => Some(body),
    };
    match found {
        Some(Value::Array(items)) => Ok(items.clone()),
        // An object-wrapped list without the key holds nothing.
        None if key.is_some() && body.is_object() => Ok(Vec::new()),
        _ => Err(KindFailure::NotAList {
            url: url.to_string(),
            problem: match key {
                Some(key) => format!("no array under \"{key}\""),
                None => "not a JSON array".into(),
            },
        }),
    }
}

/// The absolute URL of a list's first page, at Okta's maximum page size.
fn list_url(
    client: &Client,
    list: &ListEndpoint,
    path: &str,
    each: Option<(&str, &str)>,
) -> String {
    list_url_sized(client, list, path, each, None)
}

/// The absolute URL of a list's first page; `size` overrides the page size.
fn list_url_sized(
    client: &Client,
    list: &ListEndpoint,
    path: &str,
    each: Option<(&str, &str)>,
    size: Option<u32>,
) -> String {
    let mut query: Vec<(String, String)> = list
        .endpoint
        .query
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some((param, value)) = each {
        query.push((param.to_string(), value.to_string()));
    }
    if list.pagination != Pagination::None
        && let Some(limit) = size.or(list.limit)
    {
        query.push(("limit".into(), limit.to_string()));
    }
    let mut url = client.org().join(path);
    for (i, (name, value)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&encode(name));
        url.push('=');
        url.push_str(&encode(value));
    }
    url
}

/// `endpoint`'s path with its parameters bound from the object (`self_raw`) and its
/// ancestors; None when one cannot be bound.
fn bind(
    endpoint: &Endpoint,
    variant: &Variant,
    self_raw: Option<&Value>,
    ancestors: &[&Value],
) -> Option<String> {
    let mut path = endpoint.display_path();
    for name in endpoint.path_params() {
        let source = variant.params.get(name)?;
        let body = match source.depth {
            0 => self_raw?,
            depth => *ancestors.get(depth - 1)?,
        };
        let value = param_value(source, body)?;
        path = path.replace(&format!("{{{name}}}"), &encode(&value));
    }
    Some(path)
}

fn param_value(source: &ParamSource, body: &Value) -> Option<String> {
    let text = match source.path.get(body)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(if source.last_segment {
        text.rsplit('/').next().unwrap_or_default().to_string()
    } else {
        text
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// For each kind that is a parent of a read kind: the fields of its objects that children's
/// parameters and `parent_when` read (at depth 1 from the child, or 2 from a grandchild).
fn fields_children_read(
    catalogue: &Catalogue,
    selected: &BTreeSet<&str>,
) -> HashMap<String, Vec<FieldPath>> {
    let mut keep: BTreeMap<String, Vec<FieldPath>> = BTreeMap::new();
    let id = FieldPath::from_segments(vec![Segment::Key("id".into())]);
    for name in selected {
        let Some(kind) = catalogue.kind(name) else {
            continue;
        };
        for variant in &kind.variants {
            let Some(parent) = &variant.parent else {
                continue;
            };
            let grandparent = catalogue
                .kind(parent)
                .and_then(|p| p.primary().parent.clone());
            let entry = keep.entry(parent.clone()).or_default();
            entry.push(id.clone());
            if let Some(when) = &variant.parent_when {
                entry.extend(when.paths().into_iter().cloned());
            }
            for source in variant.params.values() {
                match source.depth {
                    1 => keep
                        .entry(parent.clone())
                        .or_default()
                        .push(source.path.clone()),
                    2 => {
                        if let Some(grandparent) = &grandparent {
                            keep.entry(grandparent.clone())
                                .or_default()
                                .push(source.path.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    keep.into_iter()
        .map(|(kind, mut paths)| {
            paths.sort_by_key(|p| p.to_string());
            paths.dedup();
            (kind, paths)
        })
        .collect()
}

/// What probing one kind found.
#[derive(Debug, Clone)]
pub enum Probed {
    /// The kind can be read.
    Readable,
    /// Nothing to read it under (no parent of the right sort in the org), so not asked.
    NoParent { parent: String },
}

/// Asks for each of `kinds` once (a page of one, or the get of a singleton), nested kinds
/// under one parent of their parent kind: can each be backed up?
pub async fn probe(
    catalogue: &Catalogue,
    client: &Client,
    kinds: &[String],
    granted: Option<&[String]>,
) -> Vec<(String, Result<Probed, KindFailure>)> {
    let mut samples: HashMap<String, Vec<Value>> = HashMap::new();
    let mut results: Vec<(String, Result<Probed, KindFailure>)> = Vec::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let is_parent: BTreeSet<&str> = catalogue.kinds().iter().flat_map(|k| k.parents()).collect();
    for name in kinds {
        let Some(kind) = catalogue.kind(name) else {
            continue;
        };
        if let Some(granted) = granted
            && !has_read_scopes(kind, granted)
        {
            failed.insert(name.clone());
            results.push((
                name.clone(),
                Err(KindFailure::ScopeMissing {
                    scopes: missing_read_scopes(kind, granted).join(" "),
                }),
            ));
            continue;
        }
        let page = if is_parent.contains(name.as_str()) {
            20
        } else {
            1
        };
        let mut outcome: Result<Probed, KindFailure> = Ok(Probed::Readable);
        let mut any_read = false;
        for variant in &kind.variants {
            let parent_view: Option<Value> = match &variant.parent {
                None => None,
                Some(parent) if failed.contains(parent) => {
                    outcome = Err(KindFailure::Parent {
                        parent: parent.clone(),
                    });
                    break;
                }
                Some(parent) => {
                    let found = match &variant.parents_from {
                        Some(index) => {
                            let path = index.endpoint.display_path();
                            let url = list_url_sized(client, index, &path, None, Some(1));
                            match client.get(&url, &index.endpoint.bucket).await {
                                Ok(answer) => items(&answer.body, index.items.as_deref(), &url)
                                    .ok()
                                    .and_then(|i| i.into_iter().next()),
                                Err(e) => {
                                    outcome = Err(failure(e));
                                    break;
                                }
                            }
                        }
                        None => {
                            let matching = |list: &Vec<Value>| {
                                list.iter()
                                    .find(|p| {
                                        variant.parent_when.as_ref().is_none_or(|w| w.matches(p))
                                    })
                                    .cloned()
                            };
                            match samples.get(parent).and_then(matching) {
                                Some(found) => Some(found),
                                // The sample came from one value of the parent's `each` (one
                                // policy type): try the others for a parent of the right sort.
                                None => {
                                    let more = more_samples(client, catalogue, parent).await;
                                    let found = matching(&more);
                                    samples.entry(parent.clone()).or_default().extend(more);
                                    found
                                }
                            }
                        }
                    };
                    match found {
                        Some(view) => Some(view),
                        None => {
                            if !any_read && outcome.is_ok() {
                                outcome = Ok(Probed::NoParent {
                                    parent: parent.clone(),
                                });
                            }
                            continue;
                        }
                    }
                }
            };
            let ancestors: Vec<&Value> = parent_view.iter().collect();
            let (url, bucket, list) = if let Some(list) = &variant.endpoints.list {
                let Some(path) = bind(&list.endpoint, variant, None, &ancestors) else {
                    continue;
                };
                let each = list.each.as_ref().and_then(|e| {
                    e.values
                        .iter()
                        .find(|v| !v.is_empty())
                        .map(|v| (e.param.as_str(), v.as_str()))
                });
                let url = list_url_sized(client, list, &path, each, Some(page));
                (url, &list.endpoint.bucket, Some(list))
            } else if let Some(get) = &variant.endpoints.get {
                let Some(path) = bind(get, variant, None, &ancestors) else {
                    continue;
                };
                (client.org().join(&path), &get.bucket, None)
            } else {
                continue;
            };
            match client.get(&url, bucket).await {
                Ok(answer) => {
                    any_read = true;
                    outcome = Ok(Probed::Readable);
                    match list {
                        Some(list) => {
                            if let Ok(found) = items(&answer.body, list.items.as_deref(), &url) {
                                samples.entry(name.clone()).or_default().extend(found);
                            }
                        }
                        None => samples.entry(name.clone()).or_default().push(answer.body),
                    }
                }
                Err(e) if list.is_none() && is_absent_singleton(&e) => {
                    any_read = true;
                    outcome = Ok(Probed::Readable);
                }
                Err(e) => {
                    outcome = Err(failure(e));
                    break;
                }
            }
        }
        if outcome.is_err() {
            failed.insert(name.clone());
        }
        results.push((name.clone(), outcome));
    }
    results
}

/// A page of `kind` (top-level, listed with an `each` parameter) for every `each` value but
/// the first, which the probe already asked for.
async fn more_samples(client: &Client, catalogue: &Catalogue, kind: &str) -> Vec<Value> {
    let Some(variant) = catalogue.kind(kind).map(|k| k.primary()) else {
        return Vec::new();
    };
    let (Some(list), None) = (&variant.endpoints.list, &variant.parent) else {
        return Vec::new();
    };
    let Some(each) = &list.each else {
        return Vec::new();
    };
    let path = list.endpoint.display_path();
    let mut found = Vec::new();
    for value in each.values.iter().filter(|v| !v.is_empty()).skip(1) {
        let url = list_url_sized(client, list, &path, Some((&each.param, value)), Some(20));
        if let Ok(answer) = client.get(&url, &list.endpoint.bucket).await
            && let Ok(page) = items(&answer.body, list.items.as_deref(), &url)
        {
            found.extend(page);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("status eq \"ACTIVE\""), "status%20eq%20%22ACTIVE%22");
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("é/?"), "%C3%A9%2F%3F");
    }

    #[test]
    fn a_chosen_kind_brings_its_ancestors_in_restore_order() {
        let catalogue = Catalogue::okta().unwrap();
        let plan = Plan {
            kinds: ["authorization_server_policy_rule".to_string()].into(),
            granted: None,
        };
        assert_eq!(
            plan.closure(catalogue),
            [
                "authorization_server",
                "authorization_server_policy",
                "authorization_server_policy_rule"
            ]
        );
    }

    #[test]
    fn parents_keep_what_children_read() {
        let catalogue = Catalogue::okta().unwrap();
        let all: BTreeSet<&str> = catalogue.kinds().iter().map(|k| k.name.as_str()).collect();
        let keep = fields_children_read(catalogue, &all);
        let names =
            |kind: &str| -> Vec<String> { keep[kind].iter().map(|p| p.to_string()).collect() };
        assert!(
            names("app").contains(&"signOnMode".to_string()),
            "{:?}",
            names("app")
        );
        assert!(names("group").contains(&"type".to_string()));
        assert!(
            !keep.contains_key("group_rule"),
            "nothing nests under group rules"
        );
    }

    #[test]
    fn read_scopes_are_covered_by_manage_scopes() {
        let catalogue = Catalogue::okta().unwrap();
        let group = catalogue.kind("group").unwrap();
        assert!(has_read_scopes(group, &["okta.groups.manage".into()]));
        assert!(has_read_scopes(group, &["okta.groups.read".into()]));
        assert!(!has_read_scopes(group, &["okta.users.read".into()]));
    }
}
