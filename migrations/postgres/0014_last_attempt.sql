-- When a signup's latest delivery attempt ended (unix milliseconds, UTC), so the console and
-- `ccbridge status` name the most recent error, not the one with the latest retry. Null for
-- signups never tried (and for attempts made before it was kept).
alter table signups add column last_attempt_at bigint;
