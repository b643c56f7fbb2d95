//! The request handler: authentication, routing, scope checks, rate limits, then the
//! operation (list, get, create, replace, update, delete, lifecycle) on the simulated org,
//! answered in Okta's shapes (Link headers, body pagination, error bodies).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::State;
use super::error::OktaError;
use super::org::{Object, ObjectRef};
use super::route::{Matched, NoRoute, Role};
use crate::catalogue::{Kind, Method, Pagination, Shape, Variant};

/// The e-mail templates Okta gives every brand (Okta's "Customize email notifications" list).
const EMAIL_TEMPLATES: [&str; 20] = [
    "AccountLockout",
    "ADForgotPassword",
    "ADForgotPasswordDenied",
    "ADSelfServiceUnlock",
    "ADUserActivation",
    "AuthenticatorEnrolled",
    "AuthenticatorReset",
    "ChangeEmailConfirmation",
    "EmailChallenge",
    "ForgotPassword",
    "ForgotPasswordDenied",
    "NewSignOnNotification",
    "OktaVerifyActivation",
    "PasswordChanged",
    "PasswordResetByAdmin",
    "PendingEmailChange",
    "RegistrationActivation",
    "RegistrationEmailVerification",
    "SelfServiceUnlock",
    "UserActivation",
];

type Reply = Result<Response, OktaError>;

pub async fn handle(
    AxumState(state): AxumState<Arc<State>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = format!("sim{:017x}", rand_like(&uri));
    // Okta's concurrency limit: too many requests in flight get 429 with Limit 0, Remaining 0.
    let _in_flight = InFlight::enter(&state);
    if _in_flight.count > state.concurrency {
        let mut response = OktaError::rate_limited().into_response();
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() + 1);
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-limit", HeaderValue::from(0u32));
        headers.insert("x-rate-limit-remaining", HeaderValue::from(0u32));
        headers.insert("x-rate-limit-reset", HeaderValue::from(reset));
        return with_request_id(response, &request_id);
    }
    let path = uri.path().to_string();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| url_form(q).into_iter().collect::<HashMap<_, _>>())
        .unwrap_or_default();
    // Injected latency and faults (never on the token endpoint).
    let fault = if path == "/oauth2/v1/token" {
        None
    } else {
        if !state.faults.latency.is_zero() {
            tokio::time::sleep(state.faults.latency).await;
        }
        state.faults.draw()
    };
    if let Some(fault) = fault
        && super::faults::replaces_request(fault)
    {
        let answer = super::faults::respond(fault, StatusCode::OK.into_response()).await;
        return with_request_id(answer, &request_id);
    }
    let response = if path == "/api/v1/logs" && method == HttpMethod::GET {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let base = format!("http://{host}");
        let request = super::auth::ApiRequest {
            method: method.as_str(),
            base_url: &base,
            path: &path,
            headers: &headers,
            required: &["okta.logs.read".to_string()],
        };
        let answer = match state.auth.authorize(&request) {
            Err(denied) => denied.into_response(),
            Ok(grant) if !grant.covers(&["okta.logs.read".to_string()]) => {
                OktaError::access_denied().into_response()
            }
            Ok(_) if !state.rate.take("/api/v1/logs").allowed => {
                OktaError::rate_limited().into_response()
            }
            Ok(_) => match state.log.query(&query, &format!("http://{host}")) {
                Err(error) => error.into_response(),
                Ok((events, next)) => {
                    let mut response =
                        (StatusCode::OK, axum::Json(Value::Array(events))).into_response();
                    if let Some(next) = next
                        && let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
                    {
                        response.headers_mut().append("link", value);
                    }
                    response
                }
            },
        };
        with_rate(&state, answer, "/api/v1/logs")
    } else if path == "/oauth2/v1/token" && method == HttpMethod::POST {
        let form: HashMap<String, String> = url_form(&String::from_utf8_lossy(&body))
            .into_iter()
            .collect();
        let base = base_url(&headers);
        state.auth.token(&super::auth::TokenRequest {
            headers: &headers,
            form: &form,
            base_url: &base,
        })
    } else {
        let bucket = "/api/v1".to_string();
        // Okta reconciles group-rule and policy-rule writes one at a time (423 E0000239).
        let serial_kind = method_of(&method)
            .filter(|m| *m != Method::Get)
            .and_then(|m| state.routes.find(m, &path).ok())
            .map(|matched| matched.route.kind.clone())
            .filter(|kind| {
                state
                    .catalogue
                    .kind(kind)
                    .is_some_and(|k| k.constraints.serial_writes)
            });
        let _reconciling = match &serial_kind {
            Some(kind) => match state.reconcile(kind) {
                Some(guard) => {
                    tokio::time::sleep(state.reconcile).await;
                    Some(guard)
                }
                None => {
                    let error = OktaError::new(
                        StatusCode::LOCKED,
                        "E0000239",
                        "Policy priorities are being reconciled. Please try again later.",
                    );
                    return with_request_id(
                        with_rate(&state, error.into_response(), &bucket),
                        &request_id,
                    );
                }
            },
            None => None,
        };
        match api(&state, &method, &path, &query, &headers, &body) {
            Ok((response, bucket)) => with_rate(&state, response, &bucket),
            Err((error, Some(bucket))) => with_rate(&state, error.into_response(), &bucket),
            Err((error, None)) => with_rate(&state, error.into_response(), &bucket),
        }
    };
    let response = match fault {
        Some(fault) => super::faults::respond(fault, response).await,
        None => response,
    };
    with_request_id(response, &request_id)
}

/// Counts a request in flight until dropped.
struct InFlight<'s> {
    state: &'s State,
    count: u32,
}

impl<'s> InFlight<'s> {
    fn enter(state: &'s State) -> Self {
        use std::sync::atomic::Ordering;
        let count = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        InFlight { state, count }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-okta-request-id", value);
    }
    response
}

fn with_rate(state: &State, mut response: Response, bucket: &str) -> Response {
    let usage = state.rate.peek(bucket);
    let headers = response.headers_mut();
    headers.insert("x-rate-limit-limit", HeaderValue::from(usage.limit));
    headers.insert("x-rate-limit-remaining", HeaderValue::from(usage.remaining));
    headers.insert("x-rate-limit-reset", HeaderValue::from(usage.reset));
    response
}

fn rand_like(uri: &Uri) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (uri.path().len() as u64)
}

/// Decodes `application/x-www-form-urlencoded` text (also a query string).
pub fn url_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| super::route::percent_decode(&s.replace('+', " "));
            (decode(key), decode(value))
        })
        .collect()
}

fn method_of(method: &HttpMethod) -> Option<Method> {
    Some(match *method {
        HttpMethod::GET => Method::Get,
        HttpMethod::POST => Method::Post,
        HttpMethod::PUT => Method::Put,
        HttpMethod::PATCH => Method::Patch,
        HttpMethod::DELETE => Method::Delete,
        _ => return None,
    })
}

type ApiResult = Result<(Response, String), (OktaError, Option<String>)>;

fn api(
    state: &State,
    method: &HttpMethod,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult {
    let method_name = method.as_str();
    let method = method_of(method).ok_or((OktaError::method_not_allowed(), None))?;
    let matched = match state.routes.find(method, path) {
        Ok(matched) => matched,
        Err(NoRoute::Method) => return Err((OktaError::method_not_allowed(), None)),
        Err(NoRoute::Path) => return Err((OktaError::path_not_found(path), None)),
    };
    let bucket = matched.route.bucket.clone();
    let fail = |error: OktaError| (error, Some(bucket.clone()));
    // Okta answers 411 to a body-less POST or PUT without `Content-Length: 0`.
    if matches!(method, Method::Post | Method::Put)
        && body.is_empty()
        && !headers.contains_key("content-length")
    {
        return Err(fail(OktaError::length_required()));
    }
    let kind = state
        .catalogue
        .kind(&matched.route.kind)
        .ok_or_else(|| fail(OktaError::path_not_found(path)))?;
    let variant = &kind.variants[matched.route.variant];
    let role_key = match &matched.route.role {
        Role::List => "list".to_string(),
        Role::Get => "get".to_string(),
        Role::Create => "create".to_string(),
        Role::Replace => "replace".to_string(),
        Role::Update => "update".to_string(),
        Role::Delete => "delete".to_string(),
        Role::ParentsFrom => "parents_from".to_string(),
        Role::Lifecycle(name) => format!("lifecycle.{name}"),
    };
    let required = state
        .catalogue
        .fields(&kind.name)
        .and_then(|index| {
            index
                .operations
                .get(&format!("{}.{role_key}", variant.name))
        })
        .map(|op| op.scopes.clone())
        .unwrap_or_default();
    let base = base_url(headers);
    let request = super::auth::ApiRequest {
        method: method_name,
        base_url: &base,
        path,
        headers,
        required: &required,
    };
    let grant = match state.auth.authorize(&request) {
        Ok(grant) => grant,
        // A refusal with its own shape (a DPoP challenge has no body): answered as it is.
        Err(denied) => return Ok((denied.into_response(), bucket)),
    };
    if !grant.covers(&required) {
        return Err(fail(OktaError::access_denied()));
    }
    if !state.rate.take(&bucket).allowed {
        return Err(fail(OktaError::rate_limited()));
    }
    let actor = match &grant {
        super::auth::Grant::ApiToken => json!({
            "id": "00u0simulatoradmin01", "type": "User",
            "alternateId": "admin@simulator.example", "displayName": "Simulator Admin"
        }),
        super::auth::Grant::Scopes(_) => json!({
            "id": state.auth.client_id, "type": "PublicClientApp",
            "alternateId": state.auth.client_id, "displayName": "Butterfly"
        }),
    };
    let context = Context {
        state,
        kind,
        variant,
        matched: &matched,
        query,
        base: &base,
        actor,
    };
    let response = match &matched.route.role {
        Role::List => context.list(),
        Role::Get => context.get(),
        Role::Create => context.create(body),
        Role::Replace => context.replace(body, false),
        Role::Update => context.replace(body, true),
        Role::Delete => context.delete(),
        Role::Lifecycle(name) => context.lifecycle(name),
        Role::ParentsFrom => context.parents_from(),
    };
    response.map(|r| (r, bucket.clone())).map_err(fail)
}

struct Context<'a> {
    state: &'a State,
    kind: &'a Kind,
    variant: &'a Variant,
    matched: &'a Matched<'a>,
    query: &'a HashMap<String, String>,
    base: &'a str,
    /// Who the System Log names as the actor of a write.
    actor: Value,
}

impl Context<'_> {
    fn org(&self) -> std::sync::MutexGuard<'_, super::org::Org> {
        self.state.org.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The parent named by the path's parameters, for nested kinds: ancestors are found from
    /// the top down, each among the children of the one above, so an id that repeats under
    /// several parents (an email template's name under each brand) names the right one.
    fn parent(&self, org: &super::org::Org) -> Result<Option<ObjectRef>, OktaError> {
        let Some(parent_kind) = self.variant.parent.as_deref() else {
            return Ok(None);
        };
        // chain[d - 1] is the kind at depth d (1 = parent, 2 = grandparent, …).
        let mut chain = vec![parent_kind];
        while chain.len() < 4
            && let Some(above) = chain
                .last()
                .and_then(|k| self.state.catalogue.kind(k))
                .and_then(|k| k.primary().parent.as_deref())
        {
            chain.push(above);
        }
        let mut above: Option<ObjectRef> = None;
        let mut found: Option<Object> = None;
        for depth in (1..=chain.len()).rev() {
            let kind_name = chain[depth - 1];
            let params: Vec<(&String, &crate::catalogue::ParamSource)> = self
                .variant
                .params
                .iter()
                .filter(|(param, source)| {
                    source.depth == depth && self.matched.params.contains_key(*param)
                })
                .collect();
            if params.is_empty() {
                above = None;
                continue;
            }
            let Some(kind) = self.state.catalogue.kind(kind_name) else {
                return Ok(None);
            };
            let matches = |object: &&Object| {
                params.iter().all(|(param, source)| {
                    param_value(kind, &object.body(), source).as_deref()
                        == self.matched.params.get(*param).map(String::as_str)
                })
            };
            let hit = match (&above, params.as_slice()) {
                (Some(above), _) => org
                    .list(kind_name, Some(above))
                    .into_iter()
                    .find(|o| matches(o)),
                (None, [(param, source)]) if source.path.to_string() == "id" => self
                    .matched
                    .params
                    .get(*param)
                    .and_then(|id| org.get(kind_name, id)),
                (None, _) => org.all(kind_name).into_iter().find(|o| matches(o)),
            };
            let Some(hit) = hit else {
                let value = params
                    .iter()
                    .filter_map(|(param, _)| self.matched.params.get(*param))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("/");
                return Err(OktaError::not_found(&format!("{value} ({kind_name})")));
            };
            above = Some(hit.as_parent());
            found = Some(hit.clone());
        }
        let Some(parent) = found.filter(|_| above.is_some()) else {
            return Ok(None);
        };
        if let Some(when) = &self.variant.parent_when
            && !when.matches(&parent.body())
        {
            return Err(OktaError::not_found(&format!(
                "{} ({parent_kind})",
                parent.id
            )));
        }
        Ok(Some(parent.as_parent()))
    }

    /// The object the path names (depth-0 parameters), or the singleton under the parent.
    fn target(&self, org: &super::org::Org) -> Result<Object, OktaError> {
        let parent = self.parent(org)?;
        let self_params: Vec<(&String, &crate::catalogue::ParamSource)> = self
            .variant
            .params
            .iter()
            .filter(|(_, s)| s.depth == 0)
            .collect();
        let objects = org.list(&self.kind.name, parent.as_ref());
        let found = if self_params.is_empty() {
            objects.into_iter().next()
        } else {
            objects.into_iter().find(|object| {
                self_params.iter().all(|(param, source)| {
                    let Some(value) = self.matched.params.get(*param) else {
                        return true;
                    };
                    if source.path.to_string() == "id" {
                        // A relationship member is kept under its member key (a group push
                        // mapping under its source group) but addressed by its own id.
                        *object.id == **value
                            || object.body().get("id").and_then(Value::as_str)
                                == Some(value.as_str())
                    } else {
                        source.path.get(&object.body()).map(value_text).as_deref()
                            == Some(value.as_str())
                    }
                })
            })
        };
        found.cloned().ok_or_else(|| {
            let what = self
                .matched
                .params
                .values()
                .last()
                .cloned()
                .unwrap_or_else(|| self.kind.name.clone());
            OktaError::not_found(&format!("{what} ({})", self.kind.title))
        })
    }

    fn secrets(&self) -> std::sync::MutexGuard<'_, super::present::Secrets> {
        self.state.secrets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the org stores of a written body: its canonical form (as a backup would write it),
    /// with the plaintext of any secret kept aside so the simulator can return it.
    fn store_form(&self, id: &str, body: &Value) -> (Value, Vec<(String, String)>) {
        let mut plaintexts = Vec::new();
        for path in &self.kind.secret {
            if let Some(Value::String(plaintext)) = path.get(body)
                && !plaintext.starts_with(crate::snapshot::fingerprint::PREFIX)
            {
                plaintexts.push((format!("{}/{id}/{path}", self.kind.name), plaintext.clone()));
            }
        }
        let context = crate::snapshot::canonical::Context {
            key: Some(&self.state.key),
            now: chrono::Utc::now(),
        };
        (
            crate::snapshot::canonical::canonicalize(self.kind, body, &context),
            plaintexts,
        )
    }

    /// Remembers the plaintext of secrets a write that succeeded carried.
    fn keep_secrets(&self, plaintexts: Vec<(String, String)>) {
        self.secrets().extend(plaintexts);
    }

    /// Appends a System Log event for a successful write of `object`.
    fn log(&self, action: &str, object: &Object) {
        let body = object.body();
        let key: Vec<String> = self
            .kind
            .natural_key()
            .iter()
            .filter_map(|p| p.get(&body).map(value_text))
            .collect();
        let name = if key.is_empty() {
            object.id.to_string()
        } else {
            key.join(" ")
        };
        let target = json!({
            "id": &*object.id, "type": self.kind.title,
            "alternateId": name, "displayName": name,
        });
        let event_type = super::log::event_type(&self.kind.name, action);
        let message = format!("{} {action}: {name}", self.kind.title);
        self.state
            .log
            .record(event_type, self.actor.clone(), target, message);
    }

    /// Okta refuses a group rule that assigns a group it does not have (400 E0000001), one
    /// whose expression it cannot parse, or one that reads a profile attribute no user schema
    /// defines.
    fn check_rule_expression(&self, org: &super::org::Org, rule: &Value) -> Result<(), OktaError> {
        const GROUPS: &str = "actions.assignUserToGroups.groupIds";
        if let Some(missing) = rule
            .pointer("/actions/assignUserToGroups/groupIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|id| org.get("group", id).is_none())
        {
            return Err(OktaError::new(
                StatusCode::BAD_REQUEST,
                "E0000001",
                format!("Api validation failed: {GROUPS}"),
            )
            .with_cause(format!("{GROUPS}: The group {missing} does not exist")));
        }
        const FIELD: &str = "conditions.expression.value";
        let failed = |cause: String| {
            OktaError::new(
                StatusCode::BAD_REQUEST,
                "E0000001",
                format!("Api validation failed: {FIELD}"),
            )
            .with_cause(cause)
        };
        let expr = match super::group_rules::expression_of(rule) {
            None => return Err(failed(format!("{FIELD}: The field cannot be left blank"))),
            Some(Err(error)) => {
                return Err(failed(format!("{FIELD}: Invalid expression: {error}")));
            }
            Some(Ok(expr)) => expr,
        };
        let known = super::group_rules::profile_attributes(self.state.catalogue, org);
        match super::expression::attributes(&expr)
            .into_iter()
            .find(|(name, _)| !known.contains(*name))
        {
            Some((name, position)) => Err(failed(format!(
                "{FIELD}: Invalid expression: Invalid property `{name}`: no user profile attribute has this name at position {position}"
            ))),
            None => Ok(()),
        }
    }

    /// Evaluates the ACTIVE group rules for `users` (all when `None`) and logs what changed.
    fn apply_rules(&self, org: &mut super::org::Org, users: Option<&[String]>) {
        let changes = super::group_rules::apply(self.state.catalogue, org, users);
        for change in &changes {
            if let Some(rule) = org.get("group_rule", &change.rule).cloned() {
                self.log_rule_changes(org, std::slice::from_ref(change), &rule);
            }
        }
    }

    /// System Log events for memberships a group rule added or removed: Okta's system
    /// principal as the actor, the user and the group as targets, the rule in the transaction.
    fn log_rule_changes(
        &self,
        org: &super::org::Org,
        changes: &[super::group_rules::Change],
        rule: &Object,
    ) {
        let rule_name = rule
            .member_str("name")
            .unwrap_or_else(|| rule.id.to_string());
        for change in changes {
            let login = org
                .get("user", &change.user)
                .and_then(|u| {
                    u.body()
                        .pointer("/profile/login")?
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_else(|| change.user.clone());
            let group = org
                .get("group", &change.group)
                .and_then(|g| {
                    g.body()
                        .pointer("/profile/name")?
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_else(|| change.group.clone());
            let action = if change.added { "add" } else { "remove" };
            self.state.log.record_event(super::log::Event {
                event_type: format!("group.user_membership.{action}"),
                actor: json!({
                    "id": "0oa0oktasystem000001", "type": "SystemPrincipal",
                    "alternateId": "system@okta.com", "displayName": "Okta System"
                }),
                targets: vec![
                    json!({"id": change.user, "type": "User", "alternateId": login, "displayName": login}),
                    json!({"id": change.group, "type": "UserGroup", "alternateId": group, "displayName": group}),
                ],
                message: format!("{action} user to group membership (group rule {rule_name})"),
                transaction_detail: json!({"groupRuleId": change.rule, "groupRuleName": rule_name}),
            });
        }
    }

    /// Checks a request body against the kind's request schema, for this endpoint's role
    /// (required fields hold for creates and replaces, not for partial updates).
    fn validate(&self, body: &Value) -> Result<(), OktaError> {
        match self.state.catalogue.fields(&self.kind.name) {
            Some(index) => {
                super::validate::check_body(self.kind, index, body, &self.matched.route.role)
            }
            None => Ok(()),
        }
    }

    /// An object as Okta returns it.
    fn render(&self, org: &super::org::Org, object: &Object) -> Value {
        // Relationship files that keep only the member id answer with the member itself
        // (group members are users).
        if member_only(self.kind)
            && let Some(reference) = self
                .kind
                .references
                .iter()
                .find(|r| r.path.to_string() == "id")
            && let Some(member) = org.get(&reference.kind, &object.id)
            && let Some(member_kind) = self.state.catalogue.kind(&reference.kind)
        {
            return super::present::okta_like(
                self.state.catalogue,
                member_kind,
                &member.id,
                member.body(),
                self.base,
                &self.secrets(),
                self.links(member_kind, &member.id),
            );
        }
        super::present::okta_like(
            self.state.catalogue,
            self.kind,
            &object.id,
            object.body(),
            self.base,
            &self.secrets(),
            self.links(self.kind, &object.id),
        )
    }

    /// `_links.self` of an object: its kind's `get` path, parameters filled in.
    fn links(&self, kind: &Kind, id: &str) -> Map<String, Value> {
        let mut links = Map::new();
        let variant = kind.primary();
        if let Some(get) = &variant.endpoints.get {
            let mut path = get.display_path();
            for (name, value) in &self.matched.params {
                path = path.replace(&format!("{{{name}}}"), value);
            }
            for (name, source) in &variant.params {
                if source.depth == 0 {
                    path = path.replace(&format!("{{{name}}}"), id);
                }
            }
            links.insert(
                "self".into(),
                json!({"href": format!("{}{path}", self.base)}),
            );
        }
        links
    }

    fn list(&self) -> Reply {
        let Some(list) = &self.variant.endpoints.list else {
            return Err(OktaError::method_not_allowed());
        };
        let org = self.org();
        let parent = self.parent(&org)?;
        // A plain list is paged from the org's order of keys, looking up only the page's
        // objects (100 000 users page in constant time); filters scan every object.
        let scanned = ["search", "filter", "q"]
            .iter()
            .any(|p| self.query.contains_key(*p))
            || list.each.as_ref().is_some_and(|each| {
                !list.endpoint.path.contains(&format!("{{{}}}", each.param))
                    && self.query.contains_key(&each.param)
            });
        let mut objects: Vec<&Object> = if scanned {
            org.list(&self.kind.name, parent.as_ref())
        } else {
            Vec::new()
        };
        if let Some(each) = &list.each
            && !list.endpoint.path.contains(&format!("{{{}}}", each.param))
        {
            match self.query.get(&each.param) {
                Some(value) if each.param == "filter" => {
                    let filter = super::filter::parse(value, dialect(&self.kind.name, "filter"))
                        .map_err(|e| invalid_search("filter", &e))?;
                    // Matched against what Okta would answer (volatile timestamps included).
                    objects.retain(|o| filter.matches(&self.render(&org, o)));
                }
                Some(value) => {
                    objects.retain(|o| o.member_str(&each.param).as_deref() == Some(value))
                }
                None if !each.values.iter().any(String::is_empty) => {
                    return Err(OktaError::validation(format!(
                        "{}: The field cannot be left blank",
                        each.param
                    )));
                }
                None => {}
            }
        }
        // `search` and `filter` expressions and the `q` prefix of user and group lists.
        if matches!(self.kind.name.as_str(), "user" | "group") {
            for param in ["search", "filter"] {
                if let Some(expression) = self.query.get(param)
                    && list.each.as_ref().is_none_or(|e| e.param != param)
                {
                    let filter = super::filter::parse(expression, dialect(&self.kind.name, param))
                        .map_err(|e| invalid_search(param, &e))?;
                    // Matched against what Okta would answer (volatile timestamps included).
                    objects.retain(|o| filter.matches(&self.render(&org, o)));
                }
            }
            if let Some(prefix) = self.query.get("q") {
                let prefix = prefix.to_lowercase();
                let fields: &[&str] = if self.kind.name == "user" {
                    &[
                        "profile.firstName",
                        "profile.lastName",
                        "profile.email",
                        "profile.login",
                    ]
                } else {
                    &["profile.name"]
                };
                objects.retain(|o| {
                    let body = o.body();
                    fields.iter().any(|field| {
                        crate::catalogue::FieldPath::parse(field)
                            .ok()
                            .and_then(|p| {
                                p.get(&body).and_then(Value::as_str).map(str::to_lowercase)
                            })
                            .is_some_and(|v| v.starts_with(&prefix))
                    })
                });
            }
        }
        // Okta's plain user list omits DEPROVISIONED users (NOTES.md §3.1).
        let hide_deprovisioned = self.kind.name == "user"
            && !self.query.contains_key("filter")
            && !self.query.contains_key("search");
        let visible = |o: &Object| {
            !hide_deprovisioned || o.member_str("status").as_deref() != Some("DEPROVISIONED")
        };
        objects.retain(|o| visible(o));
        let keys: Vec<(&str, &str)> = if scanned {
            objects
                .iter()
                .map(|o| (o.parent.as_ref().map_or("", |p| &*p.1), &*o.id))
                .collect()
        } else {
            org.keys(&self.kind.name, parent.as_ref())
        };
        // The visible objects from position `start` of `keys`, up to `limit`, and whether more
        // visible objects follow.
        let page_from = |start: usize, limit: usize| -> (Vec<&Object>, bool) {
            let mut page = Vec::new();
            for (parent_key, id) in keys.iter().skip(start) {
                let Some(object) = org.get_keyed(&self.kind.name, parent_key, id) else {
                    continue;
                };
                if !visible(object) {
                    continue;
                }
                if page.len() == limit {
                    return (page, true);
                }
                page.push(object);
            }
            (page, false)
        };
        let self_url = format!("{}{}", self.base, self.path_with_query(&[]));
        match list.pagination {
            Pagination::None => {
                let (all, _) = page_from(0, usize::MAX);
                let items: Vec<Value> = all.iter().map(|o| self.render(&org, o)).collect();
                drop(org);
                let body = match &list.items {
                    Some(key) => json!({ key.clone(): items }),
                    None => Value::Array(items),
                };
                Ok((StatusCode::OK, axum::Json(body)).into_response())
            }
            Pagination::Link | Pagination::Body => {
                let max = list.limit.unwrap_or(200) as usize;
                let limit = match self.query.get("limit") {
                    Some(text) => match text.parse::<i64>() {
                        Ok(n) if n > 0 => (n as usize).min(max),
                        Ok(_) => max,
                        Err(_) => {
                            return Err(OktaError::new(
                                StatusCode::BAD_REQUEST,
                                "E0000029",
                                "Invalid paging request.",
                            ));
                        }
                    },
                    None => max,
                };
                let start = match self.query.get("after") {
                    Some(after) => match keys.iter().position(|(_, id)| *id == after.as_str()) {
                        Some(at) => at + 1,
                        None => {
                            return Err(OktaError::new(
                                StatusCode::BAD_REQUEST,
                                "E0000029",
                                "Invalid paging request.",
                            ));
                        }
                    },
                    None => 0,
                };
                // Only the page is rendered: a list of 100 000 users is paged without
                // rendering every user for every page.
                let (page, has_more) = page_from(start, limit);
                let page: Vec<(super::org::Name, Value)> = page
                    .iter()
                    .map(|o| (o.id.clone(), self.render(&org, o)))
                    .collect();
                drop(org);
                let next_url = page.last().filter(|_| has_more).map(|(last, _)| {
                    format!(
                        "{}{}",
                        self.base,
                        self.path_with_query(&[("after", &**last), ("limit", &limit.to_string())])
                    )
                });
                let items: Vec<Value> = page.into_iter().map(|(_, v)| v).collect();
                if list.pagination == Pagination::Body {
                    let mut body = Map::new();
                    body.insert(
                        list.items.clone().unwrap_or_else(|| "items".into()),
                        Value::Array(items),
                    );
                    let mut links = Map::new();
                    links.insert("self".into(), json!({"href": self_url}));
                    if let Some(next) = next_url {
                        links.insert("next".into(), json!({"href": next}));
                    }
                    body.insert("_links".into(), Value::Object(links));
                    return Ok((StatusCode::OK, axum::Json(Value::Object(body))).into_response());
                }
                let mut response =
                    (StatusCode::OK, axum::Json(Value::Array(items))).into_response();
                let headers = response.headers_mut();
                if let Ok(value) = HeaderValue::from_str(&format!("<{self_url}>; rel=\"self\"")) {
                    headers.append("link", value);
                }
                if let Some(next) = next_url
                    && let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
                {
                    headers.append("link", value);
                }
                Ok(response)
            }
        }
    }

    /// The request path with its query, `overrides` replacing or adding parameters.
    fn path_with_query(&self, overrides: &[(&str, &str)]) -> String {
        let mut path = self.matched.route.template.clone();
        for (name, value) in &self.matched.params {
            path = path.replace(&format!("{{{name}}}"), &super::route::encode(value));
        }
        let mut pairs: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        pairs.sort();
        if pairs.is_empty() {
            path
        } else {
            let query: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", super::route::encode(k), super::route::encode(v)))
                .collect();
            format!("{path}?{}", query.join("&"))
        }
    }

    fn get(&self) -> Reply {
        let org = self.org();
        let object = self.target(&org)?;
        Ok((StatusCode::OK, axum::Json(self.render(&org, &object))).into_response())
    }

    fn create(&self, body: &Bytes) -> Reply {
        let mut org = self.org();
        let parent = self.parent(&org)?;
        let mut value: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|_| OktaError::body_not_well_formed())?
        };
        if !value.is_object() {
            return Err(OktaError::body_not_well_formed());
        }
        self.validate(&value)?;
        // A member named in the path (PUT /groups/{groupId}/users/{userId}).
        let path_id = self
            .variant
            .params
            .iter()
            .find(|(name, source)| {
                source.depth == 0
                    && source.path.to_string() == "id"
                    && self.matched.params.contains_key(*name)
            })
            .and_then(|(name, _)| self.matched.params.get(name).cloned());
        if let Some(id) = &path_id
            && let Some(reference) = self
                .kind
                .references
                .iter()
                .find(|r| r.path.to_string() == "id")
            && org.get(&reference.kind, id).is_none()
        {
            return Err(OktaError::not_found(&format!("{id} ({})", reference.kind)));
        }
        super::rules::check_create(self.kind, &org, parent.as_ref())?;
        if self.kind.name == "group_rule" {
            self.check_rule_expression(&org, &value)?;
        }
        let id = path_id.unwrap_or_else(|| org.new_id(&self.kind.name));
        let now = now_text();
        if let Value::Object(map) = &mut value {
            if self.kind.id.as_ref().is_some_and(|p| p.to_string() == "id") {
                map.insert("id".into(), json!(id));
            }
            // What Okta itself sets on a create, which no request carries.
            for (field, value) in set_on_create(&self.kind.name) {
                let mut target = &mut *map;
                let mut parts = field.split('.').peekable();
                while let Some(part) = parts.next() {
                    if parts.peek().is_none() {
                        target.entry(part).or_insert(value);
                        break;
                    }
                    let next = target.entry(part).or_insert_with(|| json!({}));
                    let Value::Object(next) = next else { break };
                    target = next;
                }
            }
            // An authorization server's issuer is Okta's to make: the org's (or custom domain's)
            // URL and the new server's id, whatever the request carried.
            if self.kind.name == "authorization_server"
                && let Some(Value::String(issuer)) = map.get("issuer")
                && let Some((base, _)) = issuer.rsplit_once("/oauth2/")
            {
                let issuer = format!("{base}/oauth2/{id}");
                map.insert("issuer".into(), json!(issuer));
            }
            // A scope grant names the app it was granted to.
            if self.kind.name == "app_okta_scope_grant"
                && let Some((_, app)) = &parent
            {
                map.entry("clientId")
                    .or_insert_with(|| json!(app.to_string()));
            }
            if let Some(index) = self.state.catalogue.fields(&self.kind.name) {
                // Who created it: the acting admin (or client).
                match index.response.get("createdBy").map(|f| f.ty.as_str()) {
                    Some("string") => {
                        map.insert("createdBy".into(), self.actor["id"].clone());
                    }
                    Some("object") => {
                        map.insert(
                            "createdBy".into(),
                            json!({"id": self.actor["id"], "type": self.actor["type"]}),
                        );
                    }
                    _ => {}
                }
                if index.response.contains_key("createdDate") {
                    map.insert("createdDate".into(), json!(now));
                }
            }
            // A member is its identity: the fields the path names (PUT
            // /apps/{appId}/groups/{groupId} answers with the group's `id`), and an `id` Okta
            // gives a member that has none (an admin role assignment).
            if matches!(
                self.kind.shape,
                crate::catalogue::Shape::Relationship { .. }
            ) {
                for (name, source) in &self.variant.params {
                    if source.depth == 0
                        && let [crate::catalogue::Segment::Key(field)] = source.path.segments()
                        && let Some(value) = self.matched.params.get(name)
                    {
                        map.entry(field.clone()).or_insert_with(|| json!(value));
                    }
                }
                if let crate::catalogue::Shape::Relationship { member, .. } = &self.kind.shape
                    && member.to_string() == "id"
                {
                    map.entry("id").or_insert_with(|| json!(id));
                }
            }
            if self
                .kind
                .read_only
                .iter()
                .any(|p| p.to_string() == "created")
            {
                map.insert("created".into(), json!(now));
            }
            if !self.variant.endpoints.lifecycle.is_empty()
                || self
                    .kind
                    .read_only
                    .iter()
                    .any(|p| p.to_string() == "status")
            {
                let activate = self.query.get("activate").map(String::as_str) != Some("false");
                let status = match self.kind.name.as_str() {
                    "user" if activate => "ACTIVE",
                    "user" => "STAGED",
                    "group_rule" => "INACTIVE",
                    _ if activate => "ACTIVE",
                    _ => "INACTIVE",
                };
                map.insert("status".into(), json!(status));
            }
        }
        let (value, plaintexts) = self.store_form(&id, &value);
        org.insert(self.kind, Some(id.clone()), parent.clone(), value);
        self.keep_secrets(plaintexts);
        super::rules::renumber(self.kind, &mut org, parent.as_ref(), &id);
        let object = org
            .get_at(&self.kind.name, parent.as_ref(), &id)
            .cloned()
            .ok_or_else(|| OktaError::not_found(&id))?;
        self.log("create", &object);
        match self.kind.name.as_str() {
            "group_membership" => {
                if let Some((_, group)) = &parent {
                    org.rule_memberships.hold_by_admin(group, &id);
                }
            }
            "user" => self.apply_rules(&mut org, Some(std::slice::from_ref(&id))),
            "user_type" => {
                // Okta makes each user type its profile schema (the base attributes, no custom
                // ones yet), and the type names it in `_links.schema`.
                let template = org.all("user_schema").first().map(|o| o.body());
                if let (Some(schema), Some(mut body)) =
                    (self.state.catalogue.kind("user_schema"), template)
                {
                    let schema_id = org.new_id("user_schema");
                    let base = body["id"]
                        .as_str()
                        .and_then(|u| u.rsplit_once('/'))
                        .map(|(base, _)| base.to_string())
                        .unwrap_or_default();
                    let url = format!("{base}/{schema_id}");
                    body["id"] = json!(url);
                    body["title"] = object.member("displayName").unwrap_or(json!(""));
                    body["created"] = json!(now);
                    body["definitions"]["custom"]["properties"] = json!({});
                    body["definitions"]["custom"]["required"] = json!([]);
                    org.insert(
                        schema,
                        Some(url),
                        Some(super::org::object_ref("user_type", &id)),
                        body,
                    );
                    if let Some(created) = org.get_mut_at("user_type", None, &id) {
                        created.edit_body(|b| b["_derived"] = json!({ "schema": schema_id }));
                    }
                }
            }
            "brand" => {
                // Okta gives each brand exactly one theme, made with it, with Okta's defaults.
                if let Some(theme) = self.state.catalogue.kind("brand_theme") {
                    let theme_id = org.new_id("brand_theme");
                    org.insert(
                        theme,
                        Some(theme_id.clone()),
                        Some(super::org::object_ref("brand", &id)),
                        json!({
                            "id": theme_id,
                            "emailTemplateTouchPointVariant": "OKTA_DEFAULT",
                            "endUserDashboardTouchPointVariant": "OKTA_DEFAULT",
                            "errorPageTouchPointVariant": "OKTA_DEFAULT",
                            "loadingPageTouchPointVariant": "OKTA_DEFAULT",
                            "primaryColorHex": "#1662dd",
                            "secondaryColorHex": "#ebebed",
                            "signInPageTouchPointVariant": "OKTA_DEFAULT"
                        }),
                    );
                }
                // And Okta's e-mail templates (its standard set, plus any the org's other
                // brands have), each sent to all users.
                let mut names: std::collections::BTreeSet<String> =
                    EMAIL_TEMPLATES.iter().map(|n| n.to_string()).collect();
                names.extend(
                    org.all("email_template")
                        .iter()
                        .filter_map(|t| t.member_str("name")),
                );
                let brand = super::org::object_ref("brand", &id);
                if let (Some(template), Some(settings)) = (
                    self.state.catalogue.kind("email_template"),
                    self.state.catalogue.kind("email_template_settings"),
                ) {
                    for name in names {
                        org.insert(
                            template,
                            Some(name.clone()),
                            Some(brand.clone()),
                            json!({ "name": name }),
                        );
                        let Some(parent) = org
                            .get_at("email_template", Some(&brand), &name)
                            .map(|t| t.as_parent())
                        else {
                            continue;
                        };
                        org.insert(
                            settings,
                            None,
                            Some(parent),
                            json!({ "recipients": "ALL_USERS" }),
                        );
                    }
                }
            }
            _ => {}
        }
        // 201 or 204 where Okta's spec says so (`PUT /groups/{groupId}/users/{userId}`
        // answers 204 without a body).
        let status = self.success_status("create");
        if status == StatusCode::NO_CONTENT {
            return Ok(status.into_response());
        }
        // As stored now (a user type names the schema made with it).
        let object = org
            .get_at(&self.kind.name, parent.as_ref(), &id)
            .cloned()
            .unwrap_or(object);
        let rendered = self.render(&org, &object);
        Ok((status, axum::Json(rendered)).into_response())
    }

    /// The status of Okta's success answer to this variant's `role` (201 for most creates of
    /// newer APIs), from the spec through the field index.
    fn success_status(&self, role: &str) -> StatusCode {
        self.state
            .catalogue
            .fields(&self.kind.name)
            .and_then(|index| {
                index
                    .operations
                    .get(&format!("{}.{role}", self.variant.name))
            })
            .and_then(|operation| StatusCode::from_u16(operation.status).ok())
            .unwrap_or(StatusCode::OK)
    }

    fn replace(&self, body: &Bytes, partial: bool) -> Reply {
        let mut org = self.org();
        let existing = match self.target(&org) {
            Ok(found) => found,
            // A one-per-org setting that was reset (DELETE /api/v1/org/captcha) is set again by
            // a write, as Okta does.
            Err(missing)
                if self.kind.shape == crate::catalogue::Shape::Singleton
                    && self.variant.params.values().all(|s| s.depth != 0) =>
            {
                let parent = self.parent(&org)?;
                let id = org.insert(self.kind, None, parent.clone(), json!({}));
                org.get_at(&self.kind.name, parent.as_ref(), &id)
                    .cloned()
                    .ok_or(missing)?
            }
            Err(missing) => return Err(missing),
        };
        let incoming: Value =
            serde_json::from_slice(body).map_err(|_| OktaError::body_not_well_formed())?;
        if !incoming.is_object() {
            return Err(OktaError::body_not_well_formed());
        }
        self.validate(&incoming)?;
        let existing_body = existing.body();
        let mut updated = if partial {
            let mut merged = existing_body.clone();
            merge(&mut merged, &incoming);
            merged
        } else {
            let mut replaced = incoming;
            // What a client cannot send (server-set members: a JWK's `alg`, `_links`) stays.
            if let Some(index) = self.state.catalogue.fields(&self.kind.name) {
                keep_server_members(index, &existing_body, &mut replaced, &mut Vec::new());
            }
            replaced
        };
        // Read-only fields keep their server values whatever the body says.
        for path in &self.kind.read_only {
            if let (Some(old), Some(key)) = (path.get(&existing_body), path.first_key())
                && path.is_single()
                && path.segments().len() == 1
                && let Value::Object(map) = &mut updated
            {
                map.insert(key.to_string(), old.clone());
            }
        }
        // Compared in canonical form: a set sent in another order is no change.
        let (updated, plaintexts) = self.store_form(&existing.id, &updated);
        super::rules::check_update(self.kind, &existing, &updated)?;
        if self.kind.name == "group_rule" {
            self.check_rule_expression(&org, &updated)?;
        }
        self.keep_secrets(plaintexts);
        let object = org
            .stored_mut(&existing)
            .ok_or_else(|| OktaError::not_found(&existing.id))?;
        object.set_body(&updated);
        super::rules::renumber(self.kind, &mut org, existing.parent.as_ref(), &existing.id);
        let object = org
            .get_at(&self.kind.name, existing.parent.as_ref(), &existing.id)
            .cloned()
            .ok_or_else(|| OktaError::not_found(&existing.id))?;
        self.log("update", &object);
        if self.kind.name == "user" {
            self.apply_rules(&mut org, Some(&[existing.id.to_string()]));
        }
        let rendered = self.render(&org, &object);
        Ok((StatusCode::OK, axum::Json(rendered)).into_response())
    }

    fn delete(&self) -> Reply {
        let mut org = self.org();
        let existing = self.target(&org)?;
        if self.kind.is_system(&existing.body()) {
            return Err(OktaError::new(
                StatusCode::FORBIDDEN,
                "E0000006",
                "You do not have permission to perform the requested action",
            )
            .with_cause("Okta-created objects cannot be deleted"));
        }
        if self.kind.name == "user"
            && existing.member_str("status").as_deref() != Some("DEPROVISIONED")
        {
            // The first DELETE deactivates a user; the second deletes it.
            if let Some(object) = org.stored_mut(&existing) {
                set_status(object, "DEPROVISIONED");
            }
            self.log("deactivate", &existing);
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        super::rules::check_delete(self.state.catalogue, &org, self.kind, &existing)?;
        org.remove_with_children(&existing);
        self.log("delete", &existing);
        match self.kind.name.as_str() {
            "user" => {
                // A deleted user leaves every group.
                let memberships: Vec<Object> = org
                    .all("group_membership")
                    .into_iter()
                    .filter(|m| m.id == existing.id)
                    .cloned()
                    .collect();
                for membership in memberships {
                    org.remove_at(&membership.kind, membership.parent.as_ref(), &membership.id);
                }
            }
            "group_rule" => {
                let remove_users = self.query.get("removeUsers").is_some_and(|v| v == "true");
                let changes = super::group_rules::delete_rule(&mut org, &existing.id, remove_users);
                self.log_rule_changes(&org, &changes, &existing);
            }
            _ => {}
        }
        // 204 for most kinds; 202 for group rules, whose removal Okta finishes later.
        Ok(self.success_status("delete").into_response())
    }

    fn lifecycle(&self, name: &str) -> Reply {
        let mut org = self.org();
        let existing = self.target(&org)?;
        let status = match (self.kind.name.as_str(), name) {
            ("user", "deactivate") => "DEPROVISIONED",
            ("user", "suspend") => "SUSPENDED",
            ("user", "expire_password") => "PASSWORD_EXPIRED",
            (_, "activate" | "reactivate" | "unsuspend" | "unlock") => "ACTIVE",
            (_, "deactivate") => "INACTIVE",
            (_, "enable") => "ENABLED",
            (_, "disable") => "DISABLED",
            _ => return Ok(StatusCode::NO_CONTENT.into_response()),
        };
        if status == "INACTIVE" {
            super::rules::check_deactivate(self.state.catalogue, &org, self.kind, &existing)?;
        }
        if let Some(object) = org.stored_mut(&existing) {
            set_status(object, status);
        }
        self.log(name, &existing);
        match self.kind.name.as_str() {
            "group_rule" if status == "ACTIVE" => self.apply_rules(&mut org, None),
            "user" => self.apply_rules(&mut org, Some(&[existing.id.to_string()])),
            _ => {}
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    /// `GET /api/v1/iam/assignees/users`: the users that hold an admin role.
    fn parents_from(&self) -> Reply {
        let org = self.org();
        let mut users: Vec<String> = org
            .all(&self.kind.name)
            .iter()
            .filter_map(|o| o.parent.as_ref())
            .filter(|(kind, _)| **kind == *"user")
            .map(|(_, id)| id.to_string())
            .collect();
        users.dedup();
        let value: Vec<Value> = users
            .iter()
            .map(|id| json!({"id": id, "_links": {"self": {"href": format!("{}/api/v1/users/{id}", self.base)}}}))
            .collect();
        Ok((
            StatusCode::OK,
            axum::Json(json!({"value": value, "_links": {}})),
        )
            .into_response())
    }
}

/// The value of a path parameter taken from a stored (canonical) object: the field itself, or,
/// for a link Okta sends but the canonical file keeps as a derived id, that id.
fn param_value(
    kind: &Kind,
    body: &Value,
    source: &crate::catalogue::ParamSource,
) -> Option<String> {
    if let Some(value) = source.path.get(body) {
        let text = value_text(value);
        return Some(if source.last_segment {
            text.rsplit('/').next().unwrap_or_default().to_string()
        } else {
            text
        });
    }
    let derived = kind.derived.iter().find(|d| d.from == source.path)?;
    body.get(crate::catalogue::DERIVED_MEMBER)?
        .get(&derived.name)
        .map(value_text)
}

/// A relationship kind whose files keep only the member's id (group members).
fn member_only(kind: &Kind) -> bool {
    matches!(&kind.shape, Shape::Relationship { keep, .. } if keep.len() == 1 && keep[0].to_string() == "id")
}

/// Sets a stored object's `status` (an object body; anything else is left as it is).
fn set_status(object: &mut Object, status: &str) {
    object.edit_body(|body| {
        if let Value::Object(map) = body {
            map.insert("status".into(), json!(status));
        }
    });
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn now_text() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The rules a list's `search` or `filter` expression follows.
fn dialect(kind: &str, param: &str) -> super::filter::Dialect {
    use super::filter::Dialect;
    match (kind, param) {
        ("user", "search") => Dialect::UserSearch,
        ("user", _) => Dialect::UserFilter,
        ("group", "search") => Dialect::GroupSearch,
        ("group", _) => Dialect::GroupFilter,
        _ => Dialect::Generic,
    }
}

/// Okta's answer to a `search` or `filter` expression it refuses (400 E0000031).
fn invalid_search(param: &str, error: &super::filter::FilterError) -> OktaError {
    OktaError::new(
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
    )
    .with_cause(format!("{param}: {error}"))
}

/// The simulator's own URL as the client addressed it (the `Host` header).
fn base_url(headers: &HeaderMap) -> String {
    format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
    )
}

/// On a full replace, the members of the stored object that Okta's request schema does not take
/// (or marks read-only) are kept where the body has none: Okta sets them itself, a client
/// cannot send them.
fn keep_server_members(
    index: &crate::catalogue::FieldIndex,
    existing: &Value,
    updated: &mut Value,
    path: &mut Vec<crate::catalogue::Segment>,
) {
    use crate::catalogue::{FieldPath, Segment};
    match (existing, updated) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, value) in old {
                path.push(Segment::Key(key.clone()));
                let here = FieldPath::from_segments(path.clone());
                let takes = index.has_request_field(&here)
                    && index
                        .request_field(&here)
                        .is_none_or(|info| !info.read_only);
                match new.get_mut(key) {
                    None if !takes => {
                        new.insert(key.clone(), value.clone());
                    }
                    Some(child) if takes => keep_server_members(index, value, child, path),
                    _ => {}
                }
                path.pop();
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
            path.push(Segment::Each);
            for (value, child) in old.iter().zip(new.iter_mut()) {
                keep_server_members(index, value, child, path);
            }
            path.pop();
        }
        _ => {}
    }
}

/// The members Okta gives a new object of a kind whatever the request says (read-only in its
/// schema, so no client sends them): a new group is an OKTA_GROUP, a new brand or realm is not
/// the default one, a new zone or user type is not Okta's own, a new user signs in with Okta,
/// an owner added through the API is a directory owner, a new event hook is unverified and
/// POSTs, a scope grant made through the API is an admin's. Keys are dotted paths.
fn set_on_create(kind: &str) -> Vec<(String, Value)> {
    let members: &[(&str, Value)] = match kind {
        "group" => &[
            ("type", json!("OKTA_GROUP")),
            ("objectClass", json!(["okta:user_group"])),
        ],
        "brand" | "realm" => &[("isDefault", json!(false))],
        "network_zone" => &[("system", json!(false))],
        "user_type" => &[("default", json!(false))],
        "user" => &[(
            "credentials.provider",
            json!({"name": "OKTA", "type": "OKTA"}),
        )],
        "group_owner" => &[("originType", json!("OKTA_DIRECTORY"))],
        "event_hook" => &[
            ("verificationStatus", json!("UNVERIFIED")),
            ("channel.config.method", json!("POST")),
        ],
        "app_okta_scope_grant" => &[("source", json!("ADMIN"))],
        _ => &[],
    };
    members
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
