//! S3 clients, set up the way the AWS CLI finds its settings.
//!
//! The chain, first match wins: a profile named by `--profile` or `storage.toml`; the
//! environment (`AWS_ACCESS_KEY_ID`, …); the `AWS_PROFILE` (or `default`) profile of
//! `~/.aws/config` and `~/.aws/credentials`, with static keys or a `credential_process`; web
//! identity (`AWS_WEB_IDENTITY_TOKEN_FILE`); ECS/EKS container credentials; EC2 instance
//! metadata. Region and endpoint: `storage.toml`, then `AWS_REGION`/`AWS_ENDPOINT_URL`, then
//! the profile.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use minerva_catalog::S3Settings;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::{
    BackoffConfig, ClientConfigKey, CredentialProvider, RetryConfig, StaticCredentialProvider,
};

use crate::error::StoreError;
use crate::profile::{Profile, ProfileCredentials};

/// Retries of a request that failed transiently (5xx, throttling, a dropped connection).
pub(crate) const DEFAULT_RETRIES: usize = 3;
/// No request is retried after this long: a shell should say "unreachable" in seconds.
const RETRY_TIMEOUT: Duration = Duration::from_secs(30);

/// An S3 client for `bucket`.
///
/// Long by design: the AWS chain's steps in the order the AWS CLI takes them, each a few
/// lines; split apart they would hide that order.
pub(crate) fn s3_store(
    bucket: &str,
    settings: &S3Settings,
    explicit_profile: Option<String>,
) -> Result<object_store::aws::AmazonS3, StoreError> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let env_has_keys = builder
        .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
        .is_some();
    let profile_name = explicit_profile
        .clone()
        .unwrap_or_else(Profile::default_name);
    let profile = Profile::load(&profile_name);
    if explicit_profile.is_some() && profile.is_none() {
        return Err(StoreError::MissingProfile {
            bucket: bucket.to_string(),
            profile: profile_name,
        });
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
                return Err(StoreError::UnsupportedCredentials {
                    bucket: bucket.to_string(),
                    profile: profile.name,
                    how,
                });
            }
            ProfileCredentials::None => {}
        }
    }
    builder.build().map_err(|source| StoreError::Client {
        bucket: bucket.to_string(),
        source,
    })
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
