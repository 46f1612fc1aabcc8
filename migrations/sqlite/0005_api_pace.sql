-- The pace of upstream calls, shared by every process on this database: each call takes the next
-- free slot here, so calls from all replicas together stay evenly spaced within the per-second
-- limit.
create table api_pace (
    id           integer primary key check (id = 1),
    next_slot_at integer not null   -- unix ms: the earliest a further call may go out
);
insert into api_pace (id, next_slot_at) values (1, 0);
