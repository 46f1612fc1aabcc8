-- The Constant Contact connection: one token set (a single account per installation), and the
-- short-lived state of authorizations in progress.

create table token_set (
    id                 bigint primary key check (id = 1),
    access_token       text    not null,   -- "v1:" + base64(nonce || ciphertext) when encrypted
    refresh_token      text    not null,
    expires_at         bigint not null,   -- unix ms, from the expires_in actually returned
    scopes             text    not null,   -- space-separated, as granted
    generation         bigint not null,   -- +1 on every new token set; guards against double refresh
    obtained_at        bigint not null,
    obtained_by        text    not null check (obtained_by in ('authorization_code', 'refresh_token')),
    last_refresh_at    bigint,
    refresh_failures   bigint not null default 0,
    state              text    not null check (state in ('connected', 'needs_reconnect')),
    state_reason       text,
    account_name       text,
    -- A refresh in flight holds this lease. It is committed *before* the token call, so a refresh
    -- interrupted by a crash is visible at the next start.
    refresh_started_at bigint,
    refresh_owner      text,
    refresh_lease_until bigint
);

create table oauth_states (
    state          text    primary key,    -- the random `state` sent to the authorize endpoint
    browser_key    text    not null,       -- must match the cookie of the browser that started
    pkce_verifier  text    not null,       -- encrypted like the tokens when a key is configured
    expires_at     bigint not null
);
