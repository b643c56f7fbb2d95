-- The server's connections to Okta orgs, its audit trail, sign-in throttling, and the job queue
-- with its log lines (SQLite). Times are Unix seconds (UTC). AUTOINCREMENT: an id is never
-- reused, so a deleted connection's kept repository or audit entries never meet a new one.
CREATE TABLE connections (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id        INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    okta_domain    TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    -- client_secret or private_key: the secret itself is in `secrets`, sealed.
    auth_method    TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (team_id, name)
);

-- Every action a person takes: who (the user, and the email at the time), what, on what, from where.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX audit_events_team ON audit_events (team_id, at);

-- Failed sign-ins per subject (`email:<address>` or `ip:<address>`) in the current window.
CREATE TABLE sign_in_failures (
    subject       TEXT    PRIMARY KEY,
    window_start  INTEGER NOT NULL,
    failures      INTEGER NOT NULL
);

-- The job queue: one row per backup asked for, claimed by one worker under a lease.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id        INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    connection_id  INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    requested_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    origin         TEXT    NOT NULL,
    queued_at      INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER,
    worker         TEXT,
    lease_until    INTEGER,
    attempts       INTEGER NOT NULL DEFAULT 0,
    commit_id      TEXT,
    summary        TEXT,
    okta_requests  INTEGER NOT NULL DEFAULT 0,
    error          TEXT
);
CREATE INDEX jobs_queue ON jobs (status, queued_at);
CREATE INDEX jobs_connection ON jobs (connection_id, queued_at);
-- One backup of a connection runs at a time.
CREATE UNIQUE INDEX jobs_one_running ON jobs (connection_id) WHERE status = 'running';

CREATE TABLE job_logs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    level    TEXT    NOT NULL,
    line     TEXT    NOT NULL
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);

-- A team's time zone (IANA name), in which its backup schedules run.
ALTER TABLE teams ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- A connection's backup schedule: hourly at a minute, daily at a time, or weekly on a day at a
-- time, in the team's time zone; `next_run_at` moves forward by compare-and-swap, so several
-- server processes queue each run once.
CREATE TABLE schedules (
    connection_id  INTEGER PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    team_id        INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    every          TEXT    NOT NULL,
    minute         INTEGER NOT NULL,
    hour           INTEGER NOT NULL,
    weekday        INTEGER NOT NULL,
    next_run_at    INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_run_at);
