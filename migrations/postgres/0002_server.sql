-- The server's connections to Okta orgs, its audit trail, sign-in throttling, and the job queue
-- with its log lines (PostgreSQL). Times are Unix seconds (UTC).
CREATE TABLE connections (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id        BIGINT  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    okta_domain    TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    -- client_secret or private_key: the secret itself is in `secrets`, sealed.
    auth_method    TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    UNIQUE (team_id, name)
);

-- Every action a person takes: who (the user, and the email at the time), what, on what, from where.
CREATE TABLE audit_events (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     BIGINT  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    at          BIGINT  NOT NULL
);
CREATE INDEX audit_events_team ON audit_events (team_id, at);

-- Failed sign-ins per subject (`email:<address>` or `ip:<address>`) in the current window.
CREATE TABLE sign_in_failures (
    subject       TEXT    PRIMARY KEY,
    window_start  BIGINT  NOT NULL,
    failures      BIGINT  NOT NULL
);

-- The job queue: one row per backup asked for, claimed by one worker under a lease.
CREATE TABLE jobs (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id        BIGINT  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    connection_id  BIGINT  NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    requested_by   BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    origin         TEXT    NOT NULL,
    queued_at      BIGINT  NOT NULL,
    started_at     BIGINT ,
    finished_at    BIGINT ,
    worker         TEXT,
    lease_until    BIGINT ,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    commit_id      TEXT,
    summary        TEXT,
    okta_requests  BIGINT  NOT NULL DEFAULT 0,
    error          TEXT
);
CREATE INDEX jobs_queue ON jobs (status, queued_at);
CREATE INDEX jobs_connection ON jobs (connection_id, queued_at);
-- One backup of a connection runs at a time.
CREATE UNIQUE INDEX jobs_one_running ON jobs (connection_id) WHERE status = 'running';

CREATE TABLE job_logs (
    id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id   BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at       BIGINT  NOT NULL,
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
    connection_id  BIGINT  PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    team_id        BIGINT  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    every          TEXT    NOT NULL,
    minute         BIGINT  NOT NULL,
    hour           BIGINT  NOT NULL,
    weekday        BIGINT  NOT NULL,
    next_run_at    BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_run_at);
