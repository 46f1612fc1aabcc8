-- The last generation a token set reached, kept when Disconnect deletes the token set: the next
-- connection continues from it, so a generation number never names two different token sets (a
-- refresh still in flight for an old generation must not match a new connection).
create table token_generation (
    id    bigint primary key check (id = 1),
    generation bigint not null
);

insert into token_generation (id, generation) select 1, generation from token_set where id = 1;
