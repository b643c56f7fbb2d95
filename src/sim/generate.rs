//! `--generate users=N,groups=N,apps=N,...`: adds a large, realistic org to the loaded fixture,
//! deterministically from a seed: users in every status with about 1 KB of profile each, groups,
//! bookmark and SWA apps, group memberships and app assignments per user, and app group
//! assignments. The org holds exactly what a backup of it would write: groups and apps go
//! through canonicalisation, and the hundreds of thousands of users and relationship members
//! are written as canonical text directly, without building a `serde_json::Value` (a unit test
//! holds every generated body canonical, and its text the one storing it would write).
//!
//! Must not depend on the clock for anything but last sign-ins, which are generated as "days
//! before now" so that the activity bucket kept in the files is the same on any day.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::body::Body;
use super::org::{ObjectRef, Org, object_ref};
use super::seeded::Seeded;
use crate::catalogue::{Catalogue, Kind};
use crate::snapshot::canonical::{self, Context};
use crate::snapshot::fingerprint::FingerprintKey;

/// How much to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes {
    pub users: usize,
    pub groups: usize,
    pub apps: usize,
    /// Groups each user is a member of.
    pub memberships: usize,
    /// Apps each user is assigned to directly.
    pub assignments: usize,
    /// Groups assigned to each app.
    pub app_groups: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            users: 0,
            groups: 0,
            apps: 0,
            memberships: 3,
            assignments: 2,
            app_groups: 2,
        }
    }
}

const KEYS: &str =
    "users, groups, apps, memberships (per user), assignments (per user), app_groups (per app)";

impl Sizes {
    /// Parses `users=100000,groups=5000,apps=1000` (keys in any order, each at most once).
    pub fn parse(text: &str) -> Result<Sizes, String> {
        let mut sizes = Sizes::default();
        let mut seen = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!(
                    "`{item}`: expected KEY=NUMBER, with KEY one of {KEYS}"
                ));
            };
            let key = key.trim();
            let number: usize = value
                .trim()
                .parse()
                .map_err(|_| format!("`{item}`: `{}` is not a whole number", value.trim()))?;
            if seen.contains(&key.to_string()) {
                return Err(format!("`{key}` is given twice"));
            }
            seen.push(key.to_string());
            match key {
                "users" => sizes.users = number,
                "groups" => sizes.groups = number,
                "apps" => sizes.apps = number,
                "memberships" => sizes.memberships = number,
                "assignments" => sizes.assignments = number,
                "app_groups" => sizes.app_groups = number,
                other => return Err(format!("`{other}` is not one of {KEYS}")),
            }
        }
        if sizes.users + sizes.groups + sizes.apps == 0 {
            return Err(format!(
                "nothing to generate: give at least one of users, groups, apps ({KEYS})"
            ));
        }
        Ok(sizes)
    }
}

/// What was generated.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Generated {
    pub users: usize,
    pub groups: usize,
    pub apps: usize,
    pub memberships: usize,
    pub app_user_assignments: usize,
    pub app_group_assignments: usize,
}

impl fmt::Display for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} users, {} groups, {} apps, {} memberships, {} app user and {} app group assignments",
            self.users,
            self.groups,
            self.apps,
            self.memberships,
            self.app_user_assignments,
            self.app_group_assignments
        )
    }
}

/// A catalogue kind the generator needs is missing (a catalogue bug, not a user error).
#[derive(Debug, thiserror::Error)]
#[error("the catalogue has no `{0}` kind, which --generate creates")]
pub struct MissingKind(pub String);

const FIRST: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Anders", "Aiko", "Bea", "Bilal", "Bruno", "Carmen", "Chen",
    "Chloé", "Dara", "Diego", "Elif", "Emeka", "Erik", "Fatima", "Felix", "Grace", "Hana", "Hugo",
    "Ines", "Ivan", "Jamal", "Jana", "Jonas", "Kai", "Kavya", "Lars", "Leila", "Liam", "Lucía",
    "Mara", "Mateo", "Mei", "Nadia", "Nils", "Noor", "Olga", "Omar", "Priya", "Quinn", "Rafael",
    "Rosa", "Sami", "Sofia", "Tariq", "Tomás", "Uma", "Vera", "Wei", "Yara", "Zoë",
];
const LAST: &[&str] = &[
    "Abbott",
    "Achebe",
    "Bauer",
    "Becker",
    "Castillo",
    "Chowdhury",
    "Dubois",
    "Eriksen",
    "Fernández",
    "Fischer",
    "García",
    "Gupta",
    "Haddad",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Kowalski",
    "Larsen",
    "López",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "O'Brien",
    "Okafor",
    "Park",
    "Patel",
    "Petrov",
    "Quinto",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Usman",
    "Varga",
    "Wang",
    "Weber",
    "Yilmaz",
    "Zhang",
];
const DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Engineering",
        &[
            "Software Engineer",
            "Senior Software Engineer",
            "Staff Engineer",
            "Engineering Manager",
            "VP Engineering",
        ],
    ),
    (
        "Sales",
        &[
            "Account Executive",
            "Sales Engineer",
            "Regional Sales Director",
            "VP Sales",
        ],
    ),
    (
        "Marketing",
        &[
            "Content Strategist",
            "Product Marketing Manager",
            "Growth Analyst",
        ],
    ),
    (
        "Finance",
        &["Accountant", "Financial Analyst", "Controller", "CFO"],
    ),
    ("People", &["Recruiter", "People Partner", "Head of People"]),
    (
        "Support",
        &[
            "Support Engineer",
            "Support Lead",
            "Customer Success Manager",
        ],
    ),
    (
        "IT",
        &[
            "IT Administrator",
            "Okta Administrator",
            "Security Engineer",
            "CISO",
        ],
    ),
    ("Legal", &["Counsel", "Paralegal", "General Counsel"]),
    (
        "Operations",
        &["Operations Analyst", "Facilities Coordinator", "COO"],
    ),
    (
        "Product",
        &["Product Manager", "Product Designer", "UX Researcher"],
    ),
];
/// City, state, zip, country, time zone, locale.
const PLACES: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "San Francisco",
        "CA",
        "94105",
        "US",
        "America/Los_Angeles",
        "en_US",
    ),
    ("New York", "NY", "10001", "US", "America/New_York", "en_US"),
    ("Austin", "TX", "73301", "US", "America/Chicago", "en_US"),
    ("Toronto", "ON", "M5H 2N2", "CA", "America/Toronto", "en_CA"),
    ("London", "", "EC1A 1BB", "GB", "Europe/London", "en_GB"),
    ("Dublin", "", "D02 X285", "IE", "Europe/Dublin", "en_IE"),
    ("Berlin", "", "10115", "DE", "Europe/Berlin", "de_DE"),
    ("Paris", "", "75001", "FR", "Europe/Paris", "fr_FR"),
    ("Madrid", "", "28001", "ES", "Europe/Madrid", "es_ES"),
    ("Warsaw", "", "00-001", "PL", "Europe/Warsaw", "pl_PL"),
    ("Bengaluru", "KA", "560001", "IN", "Asia/Kolkata", "en_IN"),
    ("Tokyo", "", "100-0001", "JP", "Asia/Tokyo", "ja_JP"),
    ("Singapore", "", "018956", "SG", "Asia/Singapore", "en_SG"),
    ("Sydney", "NSW", "2000", "AU", "Australia/Sydney", "en_AU"),
    (
        "São Paulo",
        "SP",
        "01000-000",
        "BR",
        "America/Sao_Paulo",
        "pt_BR",
    ),
];
const REGIONS: &[&str] = &["AMER", "EMEA", "APAC", "LATAM", "Global"];
const TEAMS: &[&str] = &[
    "Platform",
    "Payments",
    "Identity",
    "Data",
    "Mobile",
    "Web",
    "Infra",
    "Growth",
    "Enterprise",
    "SMB",
    "Partners",
    "Onboarding",
    "Compliance",
    "Research",
    "Tooling",
];
const VENDORS: &[&str] = &[
    "Jira",
    "Confluence",
    "GitHub",
    "Slack",
    "Zoom",
    "Salesforce",
    "Workday",
    "Box",
    "Dropbox",
    "Figma",
    "Notion",
    "Asana",
    "ServiceNow",
    "Zendesk",
    "HubSpot",
    "Tableau",
    "Snowflake",
    "Datadog",
    "PagerDuty",
    "Expensify",
    "Greenhouse",
    "Lucidchart",
    "Miro",
    "Airtable",
];
/// Statuses with their weights out of 100 (most users are active, as in a real org).
const STATUSES: &[(&str, usize)] = &[
    ("ACTIVE", 84),
    ("STAGED", 4),
    ("PROVISIONED", 2),
    ("SUSPENDED", 3),
    ("DEPROVISIONED", 3),
    ("LOCKED_OUT", 2),
    ("PASSWORD_EXPIRED", 1),
    ("RECOVERY", 1),
];

/// Stored timestamps count back from this date, not from the clock, so the same seed writes
/// the same files on any day.
const REFERENCE: DateTime<Utc> = DateTime::from_timestamp_nanos(1_767_225_600_000_000_000); // 2026-01-01

struct Kinds<'c> {
    user: &'c Kind,
    group: &'c Kind,
    app: &'c Kind,
    membership: &'c Kind,
    app_user: &'c Kind,
    app_group: &'c Kind,
}

impl<'c> Kinds<'c> {
    fn of(catalogue: &'c Catalogue) -> Result<Self, MissingKind> {
        let kind = |name: &str| {
            catalogue
                .kind(name)
                .ok_or_else(|| MissingKind(name.to_string()))
        };
        Ok(Kinds {
            user: kind("user")?,
            group: kind("group")?,
            app: kind("app")?,
            membership: kind("group_membership")?,
            app_user: kind("app_user_assignment")?,
            app_group: kind("app_group_assignment")?,
        })
    }
}

/// Generates users, groups and apps into `org`.
pub fn generate(
    catalogue: &Catalogue,
    org: &mut Org,
    sizes: &Sizes,
    seed: u64,
    key: &FingerprintKey,
    now: DateTime<Utc>,
) -> Result<Generated, MissingKind> {
    let mut generator = Generator::new(catalogue, org, seed, key, now)?;
    let mut done = Generated::default();
    let groups: Vec<String> = (0..sizes.groups).map(|_| generator.group(org)).collect();
    done.groups = groups.len();
    let apps: Vec<(String, bool)> = (0..sizes.apps).map(|_| generator.app(org)).collect();
    done.apps = apps.len();
    for (app, _) in &apps {
        done.app_group_assignments += generator.app_groups(org, app, &groups, sizes.app_groups);
    }
    let app_ids: Vec<String> = apps.iter().map(|(id, _)| id.clone()).collect();
    for _ in 0..sizes.users {
        let (user, login, status) = generator.user(org);
        done.users += 1;
        if status == "DEPROVISIONED" {
            // Okta removes a deactivated user from groups and apps.
            continue;
        }
        done.memberships += generator.memberships(org, &user, &groups, sizes.memberships);
        done.app_user_assignments +=
            generator.assignments(org, &user, &login, &app_ids, sizes.assignments);
    }
    Ok(done)
}

// Generated bodies written without building a `Value`: every struct lists its members in the
// order `Value` writes them (sorted by name), so the text is the one `Body::new` would store
// (a unit test holds every generated body to it).

#[derive(serde::Serialize)]
struct UserBody<'a> {
    #[serde(rename = "_derived")]
    derived: Derived,
    #[serde(skip_serializing_if = "Option::is_none")]
    activated: Option<&'a str>,
    created: &'a str,
    credentials: Credentials,
    id: &'a str,
    profile: Profile<'a>,
    status: &'a str,
    #[serde(rename = "statusChanged")]
    status_changed: &'a str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    user_type: Option<IdOnly<'a>>,
}

#[derive(serde::Serialize)]
struct Derived {
    activity: &'static str,
}

#[derive(serde::Serialize)]
struct Credentials {
    provider: Provider,
}

#[derive(serde::Serialize)]
struct Provider {
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    city: &'a str,
    cost_center: &'a str,
    country_code: &'a str,
    department: &'a str,
    display_name: &'a str,
    division: &'a str,
    email: &'a str,
    employee_number: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    locale: &'a str,
    login: &'a str,
    manager: &'a str,
    manager_id: &'a str,
    mobile_phone: &'a str,
    nick_name: &'a str,
    organization: &'a str,
    preferred_language: &'a str,
    primary_phone: &'a str,
    second_email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    street_address: &'a str,
    timezone: &'a str,
    title: &'a str,
    user_type: &'a str,
    zip_code: &'a str,
}

/// `{"id": …}`: a membership, a user type reference.
#[derive(serde::Serialize)]
struct IdOnly<'a> {
    id: &'a str,
}

/// An app user assignment.
#[derive(serde::Serialize)]
struct Assignment<'a> {
    credentials: UserName<'a>,
    id: &'a str,
    scope: &'a str,
}

#[derive(serde::Serialize)]
struct UserName<'a> {
    #[serde(rename = "userName")]
    user_name: &'a str,
}

/// The id of the org's default user type, which new users get.
fn default_user_type(org: &Org) -> Option<String> {
    org.all("user_type")
        .into_iter()
        .find(|t| t.member("default").and_then(|d| d.as_bool()) == Some(true))
        .map(|t| t.id.to_string())
}

pub(super) struct Generator<'c, 'k> {
    kinds: Kinds<'c>,
    random: Seeded,
    context: Context<'k>,
    user_type: Option<String>,
    /// Objects created so far, numbering names so they stay unique.
    created: usize,
}

impl<'c, 'k> Generator<'c, 'k> {
    pub(super) fn new(
        catalogue: &'c Catalogue,
        org: &Org,
        seed: u64,
        key: &'k FingerprintKey,
        now: DateTime<Utc>,
    ) -> Result<Self, MissingKind> {
        Ok(Generator {
            kinds: Kinds::of(catalogue)?,
            random: Seeded::new(seed),
            context: Context {
                key: Some(key),
                now,
            },
            user_type: default_user_type(org),
            created: org.len(),
        })
    }

    pub(super) fn random(&mut self) -> &mut Seeded {
        &mut self.random
    }

    /// A time `from + 0..span` days before the generator's fixed reference date.
    fn days_ago(&mut self, from: usize, span: usize) -> String {
        let days = from + self.random.below(span);
        self.timestamp(REFERENCE, days as i64)
    }

    /// A time `days` days (and some seconds) before `base`.
    fn timestamp(&mut self, base: DateTime<Utc>, days: i64) -> String {
        let seconds = self.random.below(86_400) as i64;
        (base - Duration::days(days) - Duration::seconds(seconds))
            .format("%Y-%m-%dT%H:%M:%S.000Z")
            .to_string()
    }

    fn store(
        &self,
        org: &mut Org,
        kind: &Kind,
        id: String,
        parent: Option<ObjectRef>,
        raw: &Value,
    ) {
        let body = canonical::canonicalize(kind, raw, &self.context);
        org.insert(kind, Some(id), parent, body);
    }

    /// A user with a realistic profile; returns its id, login and status.
    pub(super) fn user(&mut self, org: &mut Org) -> (String, String, &'static str) {
        self.created += 1;
        let n = self.created;
        let id = org.new_id("user");
        let first = *self.random.pick(FIRST);
        let last = *self.random.pick(LAST);
        let (department, titles) = *self.random.pick(DEPARTMENTS);
        let title = *self.random.pick(titles);
        let (city, state, zip, country, timezone, locale) = *self.random.pick(PLACES);
        let roll = self.random.below(100);
        let mut acc = 0;
        let status = STATUSES
            .iter()
            .find(|(_, weight)| {
                acc += weight;
                roll < acc
            })
            .map(|(s, _)| *s)
            .unwrap_or("ACTIVE");
        let ascii = |s: &str| {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        };
        let login = format!("{}.{}.{n}@gen.example", ascii(first), ascii(last));
        let created_days = 60 + self.random.below(2000) as i64;
        let created = self.timestamp(REFERENCE, created_days);
        let status_changed = self.days_ago(0, created_days as usize);
        let manager = format!("{} {}", self.random.pick(FIRST), self.random.pick(LAST));
        // Drawn in this order, so a seed keeps generating the same users.
        let division = format!("{department} {}", self.random.pick(REGIONS));
        let cost_center = format!("CC-{:04}", 1000 + self.random.below(400));
        let user_type = if self.random.below(10) == 0 {
            "Contractor"
        } else {
            "Employee"
        };
        let manager_id = format!("E{:07}", 1 + self.random.below(n.max(1)));
        let mobile_phone = format!(
            "+1-555-{:03}-{:04}",
            self.random.below(1000),
            self.random.below(10000)
        );
        let primary_phone = format!(
            "+1-555-{:03}-{:04}",
            self.random.below(1000),
            self.random.below(10000)
        );
        let street_address = format!(
            "{} {} Street",
            1 + self.random.below(999),
            self.random.pick(LAST)
        );
        let profile = Profile {
            city,
            cost_center: &cost_center,
            country_code: country,
            department,
            display_name: &format!("{first} {last}"),
            division: &division,
            email: &login,
            employee_number: &format!("E{n:07}"),
            first_name: first,
            last_name: last,
            locale,
            login: &login,
            manager: &manager,
            manager_id: &manager_id,
            mobile_phone: &mobile_phone,
            nick_name: first,
            organization: "Generated Example Inc.",
            preferred_language: &locale[..2],
            primary_phone: &primary_phone,
            second_email: &format!("{}.{}.{n}@personal.example", ascii(first), ascii(last)),
            state: Some(state).filter(|s| !s.is_empty()),
            street_address: &street_address,
            timezone,
            title,
            user_type,
            zip_code: zip,
        };
        // Staged and provisioned users have never signed in; the rest did, some long ago.
        // Only the bucket of the last sign-in is kept, relative to now, so it does not drift.
        let activity = if matches!(status, "STAGED" | "PROVISIONED") {
            canonical::activity_bucket(None, self.context.now)
        } else {
            let days = match self.random.below(10) {
                0 => 90 + self.random.below(400),
                1 => 35 + self.random.below(55),
                _ => self.random.below(35),
            } as i64;
            let now = self.context.now;
            let last_login = self.timestamp(now, days);
            canonical::activity_bucket(Some(&last_login), now)
        };
        // Written in canonical form directly (a hundred thousand users would spend seconds in
        // canonicalisation and in building trees of maps): no volatile fields, no nulls, the
        // activity bucket under `_derived`. A unit test holds every generated body canonical.
        let body = UserBody {
            derived: Derived { activity },
            activated: (status != "STAGED").then_some(created.as_str()),
            created: &created,
            credentials: Credentials {
                provider: Provider {
                    name: "OKTA",
                    kind: "OKTA",
                },
            },
            id: &id,
            profile,
            status,
            status_changed: &status_changed,
            user_type: self.user_type.as_deref().map(|id| IdOnly { id }),
        };
        org.insert_body(self.kinds.user, id.clone(), None, Body::written(&body));
        (id, login, status)
    }

    /// A group; returns its id.
    pub(super) fn group(&mut self, org: &mut Org) -> String {
        self.created += 1;
        let id = org.new_id("group");
        let (department, _) = *self.random.pick(DEPARTMENTS);
        let name = format!(
            "{department} {} {} {:05}",
            self.random.pick(TEAMS),
            self.random.pick(REGIONS),
            self.created
        );
        let raw = json!({
            "id": id,
            "type": "OKTA_GROUP",
            "created": self.days_ago(100, 1500),
            "lastUpdated": self.days_ago(0, 90),
            "lastMembershipUpdated": self.days_ago(0, 30),
            "objectClass": ["okta:user_group"],
            "profile": {
                "name": name,
                "description": format!("Members of {name}"),
            },
        });
        self.store(org, self.kinds.group, id.clone(), None, &raw);
        id
    }

    /// A bookmark or SWA app; returns its id and whether it is active.
    pub(super) fn app(&mut self, org: &mut Org) -> (String, bool) {
        self.created += 1;
        let id = org.new_id("app");
        let vendor = *self.random.pick(VENDORS);
        let label = format!("{vendor} {:05}", self.created);
        let host = format!("{}-{}.apps.example", vendor.to_lowercase(), self.created);
        let active = self.random.below(10) != 0;
        let status = if active { "ACTIVE" } else { "INACTIVE" };
        let created = self.days_ago(100, 1500);
        let raw = if self.random.below(2) == 0 {
            json!({
                "id": id, "label": label, "name": "bookmark", "signOnMode": "BOOKMARK",
                "status": status, "created": created, "lastUpdated": created,
                "features": [],
                "accessibility": {"selfService": false},
                "visibility": {"autoSubmitToolbar": false, "hide": {"iOS": false, "web": false}},
                "settings": {"app": {"requestIntegration": false, "url": format!("https://{host}/")}},
            })
        } else {
            json!({
                "id": id, "label": label, "name": "template_swa", "signOnMode": "BROWSER_PLUGIN",
                "status": status, "created": created, "lastUpdated": created,
                "features": [],
                "accessibility": {"selfService": false},
                "visibility": {"autoSubmitToolbar": false, "hide": {"iOS": false, "web": false}},
                "credentials": {
                    "scheme": "EDIT_USERNAME_AND_PASSWORD",
                    "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                    "revealPassword": false,
                },
                "settings": {"app": {
                    "buttonField": "#sign-in",
                    "passwordField": "#password",
                    "usernameField": "#username",
                    "url": format!("https://{host}/login"),
                    "loginUrlRegex": format!("https://{}/login", host.replace('.', "\\.")),
                }},
            })
        };
        self.store(org, self.kinds.app, id.clone(), None, &raw);
        (id, active)
    }

    /// Puts `user` in up to `count` distinct groups; returns how many.
    pub(super) fn memberships(
        &mut self,
        org: &mut Org,
        user: &str,
        groups: &[String],
        count: usize,
    ) -> usize {
        let mut added = 0;
        for group in self.distinct(groups, count) {
            let parent = Some(object_ref("group", &group));
            if org
                .get_at("group_membership", parent.as_ref(), user)
                .is_none()
            {
                // Already canonical (the member id alone): no canonicalisation for the
                // hundreds of thousands of these.
                org.insert_body(
                    self.kinds.membership,
                    user.to_string(),
                    parent,
                    Body::written(&IdOnly { id: user }),
                );
                added += 1;
            }
        }
        added
    }

    /// Assigns `user` to up to `count` distinct apps; returns how many.
    pub(super) fn assignments(
        &mut self,
        org: &mut Org,
        user: &str,
        login: &str,
        apps: &[String],
        count: usize,
    ) -> usize {
        let mut added = 0;
        for app in self.distinct(apps, count) {
            let parent = Some(object_ref("app", &app));
            if org
                .get_at("app_user_assignment", parent.as_ref(), user)
                .is_none()
            {
                // The canonical form (the kind keeps id, scope, credentials.userName and
                // profile), written directly.
                let body = Body::written(&Assignment {
                    credentials: UserName { user_name: login },
                    id: user,
                    scope: "USER",
                });
                org.insert_body(self.kinds.app_user, user.to_string(), parent, body);
                added += 1;
            }
        }
        added
    }

    /// Assigns up to `count` distinct groups to `app`, with priorities 0..; returns how many.
    pub(super) fn app_groups(
        &mut self,
        org: &mut Org,
        app: &str,
        groups: &[String],
        count: usize,
    ) -> usize {
        let parent = Some(object_ref("app", app));
        let mut added = 0;
        for group in self.distinct(groups, count) {
            let body = json!({"id": group, "priority": added});
            org.insert(
                self.kinds.app_group,
                Some(group.clone()),
                parent.clone(),
                body,
            );
            added += 1;
        }
        added
    }

    /// Up to `count` distinct items, drawn at random.
    fn distinct(&mut self, items: &[String], count: usize) -> Vec<String> {
        let count = count.min(items.len());
        let mut chosen: Vec<String> = Vec::with_capacity(count);
        while chosen.len() < count {
            let candidate = self.random.pick(items);
            if !chosen.contains(candidate) {
                chosen.push(candidate.clone());
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FingerprintKey {
        FingerprintKey::from_hex(super::super::FIXTURE_KEY).expect("fixture key")
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T00:00:00Z".parse().expect("time")
    }

    #[test]
    fn sizes_parse_and_name_what_is_wrong() {
        let sizes = Sizes::parse("users=10, groups=2,apps=1,memberships=1").expect("parses");
        assert_eq!(
            (sizes.users, sizes.groups, sizes.apps, sizes.memberships),
            (10, 2, 1, 1)
        );
        assert_eq!(sizes.assignments, 2);
        for (bad, says) in [
            ("users", "KEY=NUMBER"),
            ("users=ten", "`ten` is not a whole number"),
            ("people=3", "`people` is not one of"),
            ("users=1,users=2", "`users` is given twice"),
            ("memberships=2", "nothing to generate"),
        ] {
            let error = Sizes::parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn the_same_seed_generates_the_same_org_and_every_body_is_canonical() {
        let catalogue = Catalogue::okta().expect("catalogue");
        let sizes = Sizes::parse("users=300,groups=20,apps=6").expect("sizes");
        let mut a = Org::default();
        let mut b = Org::default();
        let done = generate(catalogue, &mut a, &sizes, 42, &key(), now()).expect("generates");
        generate(catalogue, &mut b, &sizes, 42, &key(), now()).expect("generates");
        assert_eq!(done.users, 300);
        assert!(done.memberships > 700, "{done}");
        let texts = |org: &Org| {
            let mut all: Vec<String> = org
                .objects()
                .map(|o| format!("{}{}", o.id, o.body_text()))
                .collect();
            all.sort();
            all
        };
        assert_eq!(texts(&a), texts(&b));
        let context = Context {
            key: Some(&key()),
            now: now(),
        };
        let statuses: std::collections::BTreeSet<String> = a
            .all("user")
            .iter()
            .filter_map(|u| u.member_str("status"))
            .collect();
        assert_eq!(statuses.len(), STATUSES.len(), "{statuses:?}");
        for object in a.objects() {
            let kind = catalogue.kind(&object.kind).expect("kind");
            let body = object.body();
            assert_eq!(canonical::canonicalize(kind, &body, &context), body);
            // Written directly, the text is still the one storing the parsed body writes.
            assert_eq!(object.body_text(), Body::new(&body).text(), "{}", object.id);
        }
    }

    #[test]
    fn a_user_profile_is_about_a_kilobyte() {
        let catalogue = Catalogue::okta().expect("catalogue");
        let mut org = Org::default();
        let sizes = Sizes::parse("users=50").expect("sizes");
        generate(catalogue, &mut org, &sizes, 1, &key(), now()).expect("generates");
        let total: usize = org
            .all("user")
            .iter()
            .map(|u| canonical::to_text(&u.body()).len())
            .sum();
        let average = total / 50;
        assert!(
            (800..1600).contains(&average),
            "average user file: {average} bytes"
        );
    }
}
