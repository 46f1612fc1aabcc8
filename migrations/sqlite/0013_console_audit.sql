-- What admins did from the console (retry, release): one row per button press.
-- Times are unix milliseconds (UTC).
create table console_audit (
    id      integer primary key autoincrement,
    at      integer not null,
    action  text    not null,
    target  text    not null,
    count   integer not null
);

create index console_audit_at on console_audit (at);
