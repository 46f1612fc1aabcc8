-- Counts per hour for the console's charts, kept 8 days. `hour` is the start of the UTC hour in
-- unix milliseconds. One row per (hour, form, kind, reason):
--   accepted       a signup stored to be delivered (or confirmed), counted in its insert's transaction
--   delivered      a signup settled as delivered, counted in the settle's transaction
--   refused        a signup refused at the door; `reason` is its error code, form '-' when the form
--                  is unknown; counted in memory and added here once a minute
--   token_refresh  a refreshed token set committed (form ''), in the refresh's own commit
-- `reason` is '' for every kind but refused. Replicas add to the same rows.
create table hourly_counts (
    hour    integer not null,
    form_id text    not null,
    kind    text    not null
        check (kind in ('accepted', 'delivered', 'refused', 'token_refresh')),
    reason  text    not null default '',
    n       integer not null,
    primary key (hour, form_id, kind, reason)
);
