//! AWS profile files: `~/.aws/config`, then after a NUL byte `~/.aws/credentials`. Setting up
//! a bucket's client with the profile `fuzz` (and with `default`) never panics, whatever the
//! files hold; a profile the files lack is an error naming it. No request is sent, so no
//! `credential_process` ever runs.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use minerva_catalog::StorageSettings;
use minerva_store::Stores;

fn files() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: set once, before any thread reads the environment.
        unsafe {
            std::env::set_var("AWS_CONFIG_FILE", dir.path().join("config"));
            std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("credentials"));
            std::env::remove_var("AWS_ACCESS_KEY_ID");
            std::env::remove_var("AWS_PROFILE");
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (config, credentials) = text.split_once('\0').unwrap_or((text, ""));
    let dir = files();
    std::fs::write(dir.path().join("config"), config).unwrap();
    std::fs::write(dir.path().join("credentials"), credentials).unwrap();
    let url = url::Url::parse("s3://bucket").unwrap();
    for profile in [Some("fuzz".to_string()), None] {
        let stores = Stores::new(Ok(StorageSettings::default()), profile);
        match stores.get(&url) {
            Ok(store) => {
                let _ = format!("{store}");
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
});
