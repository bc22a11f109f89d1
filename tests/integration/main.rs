//! Integration tests, one binary (each test binary links DataFusion, so there is one).

mod architecture;
mod athena;
mod bad_input;
mod bad_inputs;
mod cancellation;
mod catalog_edits;
mod cli;
#[cfg(feature = "distributed")]
mod cluster;
#[cfg(feature = "console")]
mod console;
mod corpus;
mod dense;
mod fault_proxy;
mod live;
mod memory;
#[cfg(feature = "server")]
mod pg_server;
mod prepared;
mod pruning;
mod remote_reads;
mod s3;
mod s3_faults;
mod s3_server;
mod schema_drift;
mod seed_questions;
mod shell_pty;
mod slt;
mod support;
mod writes;
