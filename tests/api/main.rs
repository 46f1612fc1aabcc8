//! Integration tests: real HTTP on real sockets, real SQLite files
//! and PostgreSQL schemas (see `database`), the real binary where a
//! process boundary matters. One test crate, so the suite links once.

mod abuse;
mod admin;
mod alerts;
mod browser;
mod cli;
mod connection;
mod crash;
mod database;
mod delivery;
mod demo;
mod health;
mod helpers;
mod metrics;
mod persistence;
mod sandbox;
mod signup;
mod storage_failure;
