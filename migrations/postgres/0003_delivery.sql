-- Delivery: a claim (lease) on signups being sent, so a crash mid-delivery only delays them, and
-- the persistent daily API budget.

alter table signups add column claimed_by text;
alter table signups add column claimed_until bigint;   -- unix ms; a claim past this is void
alter table signups add column requeued_at bigint;     -- unix ms; a manual retry restarts the age clock
alter table signups add column created_contact bigint; -- 1 = constant contact created it (201), 0 = updated (200)

-- The claim query: due, unclaimed rows, and every row for one email (coalescing).
create index signups_email on signups (email);

-- API calls made per UTC day, so a restart does not reset the daily limit.
create table api_usage (
    day  text    primary key,   -- yyyy-mm-dd, UTC
    used bigint not null
);
