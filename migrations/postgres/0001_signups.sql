-- The signup outbox: every accepted signup is a row here before the visitor gets a success answer,
-- and the delivery worker drains it into Constant Contact.
-- Times are unix milliseconds (UTC): sortable, compact, and the same type on every backend.
-- The PostgreSQL twin of migrations/sqlite: the same tables, with bigint for every integer.
create table signups (
    id              text    collate "C" primary key, -- uuid v7 (time-ordered; byte order)
    form_id         text    not null,
    email           text,                          -- null once purged by retention
    first_name      text,
    last_name       text,
    phone           text,
    company         text,
    job_title       text,
    list_ids        text    not null,              -- json array of list uuids (form lists + chosen)
    custom_fields   text    not null default '[]', -- json array of {custom_field_id, value}
    state           text    not null
        check (state in ('pending', 'delivered', 'failed', 'dead', 'spam')),
    spam_reason     text,
    attempts        bigint not null default 0,
    next_attempt_at bigint not null,
    last_error      text,
    contact_id      text,                          -- constant contact's id once delivered
    created_at      bigint not null,
    delivered_at    bigint,
    client_ip       text,                          -- consent record: who signed up, from where
    user_agent      text
);

-- The delivery worker's question: which signups are due now?
create index signups_due on signups (state, next_attempt_at);

-- A single row the readiness probe writes to prove the database accepts writes.
create table heartbeat (
    id bigint primary key check (id = 1),
    at bigint not null
);
insert into heartbeat (id, at) values (1, 0);
