//! Integration tests, one binary (each test binary links DataFusion, so there is one).

mod athena;
mod bad_input;
mod cancellation;
mod cli;
mod pruning;
mod seed_questions;
mod slt;
mod support;
