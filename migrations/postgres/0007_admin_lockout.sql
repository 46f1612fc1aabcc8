-- The admin login backoff, shared by every process on this database: attempts per client (an IPv4
-- address or an IPv6 /64), each counted before its password is checked, so that neither parallel
-- requests nor several replicas get more guesses than rate_limit.admin_failures.
create table admin_login_attempts (
    client       text    primary key,   -- "203.0.113.9" or "2001:db8:1:2::" (the /64)
    attempts     bigint not null,      -- failures and attempts in flight since the last quiet period
    last_at      bigint not null,      -- unix ms of the latest attempt or failure
    locked_until bigint               -- unix ms; the client waits until then
);

create index admin_login_attempts_last on admin_login_attempts (last_at);

-- Console sessions belong to the password they were opened with: a tag derived from
-- admin.password_hash. Changing the password ends them all. Sessions from before this column
-- existed cannot be tied to a password, so they end now (the admin logs in again).
delete from admin_sessions;
alter table admin_sessions add column password_tag text not null default '';
