//! A real S3-compatible server on 127.0.0.1 for the S3 tests: `s3s-fs`, which checks SigV4
//! signatures (so wrong credentials fail as they do on AWS) and keeps buckets as directories.
//!
//! `.ci/run` installs it and starts one for the whole run (`MINERVA_TEST_S3_ENDPOINT`,
//! `MINERVA_TEST_S3_ROOT`); without that, each test starts its own from the installed binary
//! (`MINERVA_S3_SERVER`, `s3s-fs` on PATH, or `~/.cache/minerva/tools/bin/s3s-fs`). With `CI`
//! set and no server, the tests fail: a skipped test cannot fail.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, RetryConfig};
use tempfile::TempDir;

pub const ACCESS_KEY: &str = "minerva-test";
pub const SECRET_KEY: &str = "minerva-test-secret";

const INSTALL: &str = "cargo install s3s-fs@0.14.1 --locked --features binary";

/// One S3-compatible server, stopped when dropped if this test started it.
pub struct S3Server {
    pub endpoint: String,
    root: PathBuf,
    child: Option<Child>,
    _dir: Option<TempDir>,
}

impl S3Server {
    /// The run's shared server, or one of this test's own. `None` (after saying so) when no
    /// server is available outside CI.
    pub fn start() -> Option<Self> {
        if let (Ok(endpoint), Ok(root)) = (
            std::env::var("MINERVA_TEST_S3_ENDPOINT"),
            std::env::var("MINERVA_TEST_S3_ROOT"),
        ) {
            return Some(Self {
                endpoint,
                root: PathBuf::from(root),
                child: None,
                _dir: None,
            });
        }
        Self::start_own()
    }

    /// A server of this test's own, which it may stop.
    pub fn start_own() -> Option<Self> {
        let Some(binary) = server_binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "the S3 tests need s3s-fs: {INSTALL} (.ci/run installs it)"
            );
            // Outside CI a developer without the server sees why these tests passed vacuously.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("skipping: no S3 server; install one with `{INSTALL}`");
            }
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start s3s-fs");
        let address: SocketAddr = ([127, 0, 0, 1], port).into();
        let started = Instant::now();
        while TcpStream::connect(address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "s3s-fs did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            endpoint: format!("http://{address}"),
            root: dir.path().to_path_buf(),
            child: Some(child),
            _dir: Some(dir),
        })
    }

    /// Stops the server (only one this test started).
    pub fn stop(&mut self) {
        let child = self
            .child
            .as_mut()
            .expect("only a test's own server is stopped");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Creates `bucket` (s3s-fs keeps a bucket as a directory of its root) and returns a
    /// client for it.
    pub fn bucket(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        std::fs::create_dir_all(self.root.join(bucket)).unwrap();
        self.client(bucket)
    }

    /// A client for `bucket`, signing with the server's credentials.
    pub fn client(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                // A stopped server should fail a test in a second, not after minutes of retries.
                .with_retry(RetryConfig {
                    max_retries: 1,
                    retry_timeout: Duration::from_secs(5),
                    ..RetryConfig::default()
                })
                .build()
                .unwrap(),
        )
    }

    /// `catalog/storage.toml` pointing every bucket at this server.
    pub fn storage_toml(&self) -> String {
        format!(
            "[s3]\nendpoint = \"{}\"\npath_style = true\nallow_http = true\nregion = \"us-east-1\"\n",
            self.endpoint
        )
    }

    /// The binary, with the server's credentials in its environment and no AWS files.
    pub fn minerva(&self) -> assert_cmd::Command {
        let mut command = minerva_without_aws();
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        command
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The binary with nothing of the machine's AWS setup: no keys, no profile files.
pub fn minerva_without_aws() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("minerva").unwrap();
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    command
        .env("MINERVA_CACHE_DIR", crate::support::fresh_cache_dir())
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        )
        // No instance metadata service here: fail fast rather than wait for one.
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

fn server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MINERVA_S3_SERVER") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("s3s-fs"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let cached = dirs::home_dir()?.join(".cache/minerva/tools/bin/s3s-fs");
        cached.is_file().then_some(cached)
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Uploads every file under `local` to `store` under `prefix`, keeping relative paths.
pub async fn upload(store: &dyn ObjectStore, local: &Path, prefix: &str) -> usize {
    let mut count = 0;
    let mut pending = vec![local.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(local)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let key = ObjectPath::from(format!("{prefix}/{relative}"));
            let bytes = std::fs::read(&path).unwrap();
            object_store::ObjectStoreExt::put(store, &key, bytes.into())
                .await
                .unwrap();
            count += 1;
        }
    }
    count
}
