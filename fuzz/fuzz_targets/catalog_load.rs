//! The catalog loader on any table file (and `storage.toml`): loading never panics; a bad file
//! is a problem of its table, named, not a failure of the catalog. The input is the table file,
//! then optionally a NUL byte and `storage.toml`. Exercises table files, projection
//! properties, location templates and storage settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minerva_catalog::{Catalog, PartitionFilter};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (table, storage) = text.split_once('\0').unwrap_or((text, ""));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("default")).unwrap();
    std::fs::write(dir.path().join("default/t.toml"), table).unwrap();
    if !storage.is_empty() {
        std::fs::write(dir.path().join("storage.toml"), storage).unwrap();
    }
    let Ok(catalog) = Catalog::load(dir.path()) else {
        return;
    };
    for problem in catalog.problems() {
        let _ = problem.to_string();
    }
    let _ = catalog.storage().map(|s| format!("{s:?}"));
    for table in catalog.tables() {
        let _ = table.qualified_name();
        if let Some(projection) = table.projection() {
            let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
            let _ = projection.total(now);
            let _ = projection.partitions(&table.layout(), &PartitionFilter::all(), now);
        }
    }
});
