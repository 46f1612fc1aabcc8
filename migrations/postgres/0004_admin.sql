-- Admin console sessions. The session id lives only in the admin's cookie; the database keeps its
-- SHA-256, so a leaked database copy cannot be replayed as a login.
create table admin_sessions (
    id_hash    text    primary key,   -- hex sha-256 of the session id
    csrf_token text    not null,      -- sent with every state-changing form of this session
    created_at bigint not null,      -- unix ms
    expires_at bigint not null       -- unix ms; a session past this is void
);

create index admin_sessions_expiry on admin_sessions (expires_at);

-- The console's "deliveries in the last hour/day".
create index signups_delivered_at on signups (delivered_at);
