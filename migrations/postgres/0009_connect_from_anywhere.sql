-- Connecting from anywhere: which account a token set belongs to and how it was authorized, a
-- pause while a switch to another account awaits an admin's confirmation, connect links for the
-- account owner, and device authorizations started from a web page.

-- Constant Contact's encoded_account_id (from GET /account/summary; null without account_read).
alter table token_set add column account_id text;
-- 'browser' (the console's Connect), 'device' (a device code: `ccbridge connect` or the console),
-- 'link' (a connect link, either flow). Null for connections made before this column existed.
alter table token_set add column authorized_via text;
-- A connection through a link to another account than the previous one (or to an account that
-- could not be named): deliveries wait until an admin confirms the switch in the console.
alter table token_set add column switch_unconfirmed bigint not null default 0;
-- The account that was the confirmed one when this set was held (for the console and the status).
alter table token_set add column previous_account_name text;
-- When the set's authorization was made (a refresh keeps it): a process that finds a later one
-- knows another process connected, even if that set was refreshed since.
alter table token_set add column authorized_at bigint;
update token_set set authorized_at = obtained_at;
-- This set replaced one that needed a reconnect, and no process has announced the recovery yet:
-- exactly one (the first to clear this) raises connection_restored.
alter table token_set add column recovery_pending bigint not null default 0;

-- The account an admin stands behind: the last one connected from the console or the command
-- line, or confirmed after a link switched accounts. A link connection to any other account is
-- held. Kept across a Disconnect, so a link cannot switch accounts by waiting for one.
create table confirmed_account (
    id           bigint primary key check (id = 1),
    account_id   text,                     -- encoded_account_id; null when it could not be read
    account_name text
);
insert into confirmed_account (id, account_id, account_name)
    select 1, null, account_name from token_set where id = 1;

create table connect_links (
    id          text    primary key,      -- a UUID, shown in the console and used to revoke
    token_hash  text    not null unique,  -- SHA-256 of the link's secret; the secret is not kept
    created_at  bigint not null,             -- unix ms
    expires_at  bigint not null,
    created_by  text    not null,         -- 'console', 'cli' or 'alert'
    note        text,                     -- who it is for, as the admin wrote it
    used_at     bigint,                      -- when a connection through it completed
    revoked_at  bigint
);

-- A device authorization started from a page (the console's Connect, or a connect link, under
-- flow = "device"): the process that started it polls; the page reads the state from here, so a
-- reload served by another replica still shows it.
create table device_authorizations (
    id              text    primary key,  -- a UUID, in the page's URL
    device_code     text    not null,     -- encrypted like the tokens when a key is configured
    user_code       text    not null,
    verification_uri text   not null,
    verification_uri_complete text,
    expires_at      bigint not null,         -- unix ms
    link_id         text,                 -- the connect link it was started from, if any
    browser_key     text    not null,     -- only the browser that started it sees its page
    state           text    not null check (state in ('pending', 'connected', 'failed')),
    message         text                  -- the outcome, for the page
);

-- An authorization started from a connect link names it, so the callback can consume the link.
alter table oauth_states add column link_id text;
