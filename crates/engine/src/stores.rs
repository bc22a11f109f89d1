//! The session's object stores: local files, stores handed in by the embedder, and one S3
//! client per bucket, built on first use from the catalog's `storage.toml` and the standard AWS
//! credential chain.
//!
//! The chain, first match wins: a profile named by `--profile` or `storage.toml`; the
//! environment (`AWS_ACCESS_KEY_ID`, …); the `AWS_PROFILE` (or `default`) profile of
//! `~/.aws/config` and `~/.aws/credentials`, with static keys or a `credential_process`; web
//! identity (`AWS_WEB_IDENTITY_TOKEN_FILE`); ECS/EKS container credentials; EC2 instance
//! metadata. Region and endpoint: `storage.toml`, then `AWS_REGION`/`AWS_ENDPOINT_URL`, then
//! the profile.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use minerva_catalog::{CatalogError, S3Settings, StorageSettings};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::{
    BackoffConfig, ClientConfigKey, CredentialProvider, ObjectStore, RetryConfig,
    StaticCredentialProvider,
};
use url::Url;

use crate::aws_profile::{Profile, ProfileCredentials};
use crate::error::{EngineError, Result};

/// Retries of a request that failed transiently (5xx, throttling, a dropped connection).
const DEFAULT_RETRIES: usize = 3;
/// No request is retried after this long: a shell should say "unreachable" in seconds.
const RETRY_TIMEOUT: Duration = Duration::from_secs(30);

/// Every store the session reads from.
#[derive(Debug)]
pub(crate) struct Stores {
    known: DefaultObjectStoreRegistry,
    storage: std::result::Result<StorageSettings, Arc<CatalogError>>,
    profile: Option<String>,
    building: Mutex<()>,
}

impl Stores {
    pub(crate) fn new(
        storage: std::result::Result<StorageSettings, Arc<CatalogError>>,
        profile: Option<String>,
    ) -> Self {
        Self {
            known: DefaultObjectStoreRegistry::new(),
            storage,
            profile,
            building: Mutex::new(()),
        }
    }

    fn build_s3(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let storage = self.storage.as_ref().map_err(Arc::clone)?;
        let bucket = url.host_str().unwrap_or_default();
        let settings = storage.for_bucket(bucket);
        let profile_name = self.profile.clone().or_else(|| settings.profile.clone());
        Ok(Arc::new(s3_store(bucket, &settings, profile_name)?))
    }
}

impl ObjectStoreRegistry for Stores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        if url.scheme() != "s3" {
            return self.known.get_store(url);
        }
        // One client per bucket, even when several scans ask at once.
        let _building = self.building.lock().expect("store registry poisoned");
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let store = self.build_s3(url).map_err(EngineError::into_datafusion)?;
        self.known.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}

/// An S3 client for `bucket`.
fn s3_store(
    bucket: &str,
    settings: &S3Settings,
    explicit_profile: Option<String>,
) -> Result<object_store::aws::AmazonS3> {
    let store_error = |message: String| EngineError::Store {
        what: format!("cannot use bucket '{bucket}'"),
        message,
    };
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let env_has_keys = builder
        .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
        .is_some();
    let profile_name = explicit_profile
        .clone()
        .unwrap_or_else(Profile::default_name);
    let profile = Profile::load(&profile_name);
    if explicit_profile.is_some() && profile.is_none() {
        return Err(store_error(format!(
            "AWS profile '{profile_name}' is not in ~/.aws/config or ~/.aws/credentials"
        )));
    }

    let region = settings.region.clone().or_else(|| {
        let from_env = builder.get_config_value(&AmazonS3ConfigKey::Region);
        from_env.or_else(|| profile.as_ref()?.get("region").map(String::from))
    });
    if let Some(region) = region {
        builder = builder.with_region(region);
    }
    let endpoint = settings.endpoint.clone().or_else(|| {
        let from_env = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
        from_env.or_else(|| profile.as_ref()?.get("endpoint_url").map(String::from))
    });
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(path_style) = settings.path_style {
        builder = builder.with_virtual_hosted_style_request(!path_style);
    }
    if let Some(allow_http) = settings.allow_http {
        builder = builder.with_allow_http(allow_http);
    }
    if let Some(timeout) = settings.timeout {
        builder = builder.with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", timeout.as_millis()),
        );
    }
    if let Some(timeout) = settings.connect_timeout {
        builder = builder.with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            format!("{}ms", timeout.as_millis()),
        );
    }
    builder = builder.with_retry(RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: settings.retries.unwrap_or(DEFAULT_RETRIES),
        retry_timeout: RETRY_TIMEOUT,
    });

    if settings.skip_signature == Some(true) {
        builder = builder.with_skip_signature(true);
    } else if let Some(profile) = profile.filter(|_| explicit_profile.is_some() || !env_has_keys) {
        match profile.credentials() {
            ProfileCredentials::Static {
                key_id,
                secret,
                token,
            } => {
                let credential = AwsCredential {
                    key_id: key_id.to_string(),
                    secret_key: secret.to_string(),
                    token: token.map(String::from),
                };
                builder =
                    builder.with_credentials(Arc::new(StaticCredentialProvider::new(credential)));
            }
            ProfileCredentials::Process(command) => {
                builder = builder
                    .with_credentials(Arc::new(ProcessCredentials::new(&profile.name, command)));
            }
            ProfileCredentials::Unsupported(how) => {
                return Err(store_error(format!(
                    "AWS profile '{}' gets credentials by {how}, which Minerva does not run itself: add `credential_process = aws configure export-credentials --profile {} --format process` to a profile and use that one",
                    profile.name, profile.name
                )));
            }
            ProfileCredentials::None => {}
        }
    }
    builder
        .build()
        .map_err(|e| store_error(crate::store_error::explain_store_error(&e)))
}

/// Credentials printed by a profile's `credential_process` (the AWS CLI's JSON), reused until
/// a minute before they expire.
#[derive(Debug)]
struct ProcessCredentials {
    profile: String,
    command: String,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl ProcessCredentials {
    fn new(profile: &str, command: &str) -> Self {
        Self {
            profile: profile.to_string(),
            command: command.to_string(),
            cached: tokio::sync::Mutex::default(),
        }
    }

    fn failure(&self, message: String) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: format!(
                "credential_process of AWS profile '{}' failed: {message}",
                self.profile
            )
            .into(),
        }
    }

    async fn run(&self) -> object_store::Result<(Arc<AwsCredential>, Option<SystemTime>)> {
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .output()
            .await
            .map_err(|e| self.failure(e.to_string()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(self.failure(format!(
                "{}: {}",
                output.status,
                stderr.lines().next().unwrap_or_default()
            )));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Printed {
            access_key_id: String,
            secret_access_key: String,
            session_token: Option<String>,
            expiration: Option<String>,
        }
        let printed: Printed = serde_json::from_slice(&output.stdout)
            .map_err(|e| self.failure(format!("its output is not the expected JSON ({e})")))?;
        let expires = printed
            .expiration
            .as_deref()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .map(SystemTime::from);
        let credential = AwsCredential {
            key_id: printed.access_key_id,
            secret_key: printed.secret_access_key,
            token: printed.session_token,
        };
        Ok((Arc::new(credential), expires))
    }
}

#[async_trait]
impl CredentialProvider for ProcessCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        let fresh = |expires: &Option<SystemTime>| {
            expires.is_none_or(|at| {
                at.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > Duration::from_secs(60))
            })
        };
        if let Some((credential, expires)) = cached.as_ref()
            && fresh(expires)
        {
            return Ok(Arc::clone(credential));
        }
        let (credential, expires) = self.run().await?;
        *cached = Some((Arc::clone(&credential), expires));
        Ok(credential)
    }
}
