-- The latest comparison of the configured lists and custom fields with the connected account, so
-- that `ccbridge status` and every replica see it. Cleared when the connection changes.
create table account_check (
    id                    bigint primary key check (id = 1),
    checked_at            bigint not null,   -- unix ms
    missing_lists         text not null,     -- JSON array of list ids
    missing_custom_fields text not null      -- JSON array of custom field ids
);
