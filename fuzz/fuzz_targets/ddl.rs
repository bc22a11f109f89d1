//! Athena DDL: parsing never panics, and a table it defines prints as DDL (`SHOW CREATE TABLE`)
//! that parses again to the same definition.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minerva_sql::{Ddl, parse_ddl, show_create_table};

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let root = std::path::Path::new("/catalog");
    let Some(Ok(Ddl::CreateTable { table, .. })) = parse_ddl(sql, root) else {
        return;
    };
    let columns = table.columns.clone().unwrap_or_default();
    let printed = show_create_table(&table, &columns);
    match parse_ddl(&printed, root) {
        Some(Ok(Ddl::CreateTable { table: again, .. })) => {
            assert_eq!(again.columns, table.columns, "{printed}");
            assert_eq!(again.partition_columns, table.partition_columns, "{printed}");
            assert_eq!(again.properties, table.properties, "{printed}");
        }
        other => panic!("SHOW CREATE TABLE printed DDL that does not parse: {printed}\n{other:?}"),
    }
});
