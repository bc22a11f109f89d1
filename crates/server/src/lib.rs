//! Minerva over the Postgres wire protocol: psql, BI tools (Tableau, Metabase, Superset,
//! DBeaver) and Postgres drivers use the lake as a PostgreSQL database.
//!
//! Every connection gets its own session of one shared [`minerva_engine::Engine`] (its
//! settings are its own; the catalog, the listing and footer caches, the stores and the memory
//! pool are shared). A statement goes one of three ways:
//! - the connection's own business (`SET`, `SHOW`, `BEGIN`/`COMMIT`, `DISCARD ALL`, …) is
//!   answered here, as Postgres would;
//! - a question about the database itself, the kind clients ask at connect time (anything
//!   reading `pg_catalog`, or calling `version()`, `current_schema()`, `format_type()`, …),
//!   runs on an emulated `pg_catalog` (datafusion-pg-catalog) that lists the catalog's
//!   databases as schemas and its tables as tables;
//! - everything else runs on the engine, exactly as in the shell: the Trino dialect,
//!   partition pruning, the scan limit, the timeout.
//!
//! Results stream to the client as they are computed, in text or binary format (arrow-pg);
//! errors are Postgres error responses with a SQLSTATE and the engine's one-line message.

mod auth;
mod cancel;
mod catalog;
mod config;
mod connection;
mod encode;
mod error;
mod fast_text;
mod route;
mod server;
mod sqlstate;

pub use config::{ServerConfig, Tls, read_password_file};
pub use error::ServerError;
pub use server::{Running, Server};
