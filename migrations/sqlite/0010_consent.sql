-- Consent you can prove: double opt-in, unsubscribes respected, a consent record, privacy requests.
-- Times are unix milliseconds (UTC).

-- Two new signup states. SQLite cannot change a check constraint, so the table is rebuilt with
-- the same columns, then the new ones.
create table signups_new (
    id              text    primary key,
    form_id         text    not null,
    email           text,
    first_name      text,
    last_name       text,
    phone           text,
    company         text,
    job_title       text,
    list_ids        text    not null,
    custom_fields   text    not null default '[]',
    state           text    not null
        check (state in ('pending', 'delivered', 'failed', 'dead', 'spam',
                         'awaiting_confirmation', 'suppressed')),
    spam_reason     text,
    attempts        integer not null default 0,
    next_attempt_at integer not null,
    last_error      text,
    contact_id      text,
    created_at      integer not null,
    delivered_at    integer,
    client_ip       text,
    user_agent      text,
    claimed_by      text,
    claimed_until   integer,
    requeued_at     integer,
    created_contact integer,
    consent_mode       text not null default 'single' check (consent_mode in ('single', 'double')),
    confirmed_at       integer,            -- the person confirmed by mail
    confirm_expires_at integer,            -- awaiting_confirmation: purged after this
    hold_reason        text                -- why awaiting_confirmation or suppressed
);
insert into signups_new (id, form_id, email, first_name, last_name, phone, company, job_title,
    list_ids, custom_fields, state, spam_reason, attempts, next_attempt_at, last_error, contact_id,
    created_at, delivered_at, client_ip, user_agent, claimed_by, claimed_until, requeued_at,
    created_contact)
select id, form_id, email, first_name, last_name, phone, company, job_title,
    list_ids, custom_fields, state, spam_reason, attempts, next_attempt_at, last_error, contact_id,
    created_at, delivered_at, client_ip, user_agent, claimed_by, claimed_until, requeued_at,
    created_contact
from signups;
drop table signups;
alter table signups_new rename to signups;
create index signups_due on signups (state, next_attempt_at);
create index signups_email on signups (email);
create index signups_delivered_at on signups (delivered_at);

-- What a person agreed to: each version of a form's consent text, stored once and referenced by
-- its SHA-256 (hex).
create table consent_texts (
    hash       text    primary key,
    text       text    not null,
    created_at integer not null
);

-- The consent record of every signup: who asked, when, from which page, to what, and what Constant
-- Contact made of it. It outlives the signup's other personal data (privacy.consent_retention
-- after delivery); an unconfirmed signup's record goes with the signup.
create table consent_records (
    signup_id         text    primary key,
    form_id           text    not null,
    email             text    not null,
    consent_mode      text    not null check (consent_mode in ('single', 'double')),
    consent_text_hash text,                   -- consent_texts.hash, null: the form showed none
    source_page       text,                   -- Origin or Referer of the signup request
    language          text,                   -- the visitor's Accept-Language choice
    client_ip         text,                   -- as privacy.client_address keeps it
    user_agent        text,                   -- as privacy.user_agent keeps it
    signed_up_at      integer not null,
    confirmed_at      integer,                 -- the person's own confirmation (double opt-in, resubscribe)
    confirm_ip        text,
    confirm_user_agent text,
    delivered_at      integer,
    outcome           text check (outcome in ('created', 'updated')),
    contact_id        text
);
create index consent_records_email on consent_records (email);
create index consent_records_delivered_at on consent_records (delivered_at);

-- Confirmation links: only a hash of the token is stored, made when the mail is sent.
create table confirm_tokens (
    token_hash text    primary key,           -- sha-256 (hex) of the token in the link
    signup_id  text    not null,
    created_at integer not null,
    expires_at integer not null,
    used_at    integer
);
create index confirm_tokens_signup on confirm_tokens (signup_id);

-- Mails to send (confirmation requests), drained by the mail worker with a lease like deliveries.
-- The body is written when the mail is sent, so this queue never holds a usable link.
create table mail_outbox (
    id              text    primary key,      -- uuid v7
    kind            text    not null check (kind in ('confirmation')),
    signup_id       text    not null,
    to_address      text    not null,
    state           text    not null check (state in ('queued', 'sent', 'dead', 'cancelled')),
    attempts        integer not null default 0,
    next_attempt_at integer not null,
    last_error      text,
    claimed_by      text,
    claimed_until   integer,
    created_at      integer not null,
    sent_at         integer
);
create index mail_outbox_due on mail_outbox (state, next_attempt_at);
create index mail_outbox_to on mail_outbox (to_address, created_at);
create index mail_outbox_signup on mail_outbox (signup_id);

-- The account's unsubscribed addresses (and deleted contacts whose permission is unsubscribed),
-- mirrored from GET /contacts so that no signup re-subscribes them on someone else's say-so.
create table unsubscribed (
    email        text    primary key,         -- lower-cased
    contact_id   text    not null,
    opted_out_at integer,                      -- unix ms, when Constant Contact says
    deleted      integer not null default 0,
    synced_at    integer not null
);

-- The mirror's sync state (one row).
create table unsubscribed_sync (
    id                       integer primary key check (id = 1),
    last_sync_at             integer,          -- last successful sync of either kind
    last_full_sync_at        integer,          -- last complete full sync
    full_sync_authorized_at  integer,          -- token_set.authorized_at the last full sync ran under
    high_water               integer,          -- newest opt-out seen, for optout_after
    failing_since            integer,          -- first failure of the current run of failures
    last_error               text
);
insert into unsubscribed_sync (id) values (1);

-- Constant Contact sends a resubscribe mail once per contact: remember that it was asked.
create table resubscribe_requests (
    contact_id   text    primary key,
    email        text    not null,
    signup_id    text    not null,
    requested_at integer not null
);

-- Privacy requests answered: a keyed hash of the address, never the address.
create table privacy_audit (
    id         text    primary key,
    action     text    not null check (action in ('export', 'erase')),
    email_hmac text    not null,
    actor      text    not null,
    at         integer not null
);

-- The key of those hashes, made once per database.
create table privacy_key (
    id  integer primary key check (id = 1),
    key text    not null
);
