//! The store: signups survive restarts, a database that cannot be written never gets a success
//! answer, several handles on one database never share a claim or a slot, and a PostgreSQL server
//! going away is survived.

mod outage;
mod persistence;
mod sharing;
mod storage_failure;
