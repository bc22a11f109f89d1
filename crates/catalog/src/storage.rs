//! How to reach the object stores a catalog's tables live in: `catalog/storage.toml`.
//!
//! ```toml
//! [s3]                         # every s3:// bucket
//! region = "eu-central-1"
//! profile = "analytics"        # a profile of ~/.aws/config and ~/.aws/credentials
//!
//! [s3.buckets.local-lake]      # one bucket: overrides [s3] field by field
//! endpoint = "http://127.0.0.1:9000"
//! path_style = true
//! allow_http = true
//! ```
//!
//! Top-level settings: `listing_ttl = "30s"` (how long a remote listing is reused),
//! `query_timeout = "30m"` (how long a query may run unless `--timeout` says otherwise) and
//! `warehouse = "s3://bucket/warehouse"` (where `CREATE TABLE AS` puts tables that name no
//! `external_location`: `<warehouse>/<database>/<table>/`; a relative path is from the catalog).
//!
//! Credentials never live here: they come from the standard AWS chain (environment, profile
//! files, web identity, container and instance metadata), so catalog files can be reviewed and
//! shared without leaking secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{CatalogError, Result};

/// The name of the storage settings file at the catalog's root.
pub const STORAGE_FILE: &str = "storage.toml";

/// A catalog's object store settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageSettings {
    /// Settings for every S3 bucket.
    pub s3: S3Settings,
    /// Per-bucket settings, layered over `s3`.
    pub buckets: BTreeMap<String, S3Settings>,
    /// How long a listing of a remote store is reused before it is asked again.
    pub listing_ttl: Option<Duration>,
    /// How long a query may run before it is stopped, unless the command line says otherwise
    /// (Athena's workgroup query timeout).
    pub query_timeout: Option<Duration>,
    /// Where `CREATE TABLE AS` puts a table that names no `external_location`:
    /// `<warehouse>/<database>/<table>/` (Athena's workgroup output location). A local path
    /// (relative to the catalog directory) or an `s3://` URL, as written.
    pub warehouse: Option<String>,
}

/// How to reach S3 or an S3-compatible server. Unset fields fall back to the AWS chain's
/// defaults (`AWS_REGION`, `AWS_ENDPOINT_URL`, the profile's `region`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket's region (`us-east-1` when nothing says otherwise).
    pub region: Option<String>,
    /// A custom endpoint (`http://127.0.0.1:9000`, an R2 or MinIO URL).
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), as most S3-compatible servers need.
    pub path_style: Option<bool>,
    /// Whether plain-HTTP endpoints are allowed.
    pub allow_http: Option<bool>,
    /// The AWS profile whose credentials and region to use.
    pub profile: Option<String>,
    /// Send unsigned requests (public buckets); no credentials are looked up.
    pub skip_signature: Option<bool>,
    /// How long one request may take before it is retried or fails.
    pub timeout: Option<Duration>,
    /// How long connecting may take.
    pub connect_timeout: Option<Duration>,
    /// How many times a request that failed transiently is retried.
    pub retries: Option<usize>,
}

impl S3Settings {
    /// These settings, with unset fields taken from `defaults`.
    pub fn or(&self, defaults: &S3Settings) -> S3Settings {
        S3Settings {
            region: self.region.clone().or_else(|| defaults.region.clone()),
            endpoint: self.endpoint.clone().or_else(|| defaults.endpoint.clone()),
            path_style: self.path_style.or(defaults.path_style),
            allow_http: self.allow_http.or(defaults.allow_http),
            profile: self.profile.clone().or_else(|| defaults.profile.clone()),
            skip_signature: self.skip_signature.or(defaults.skip_signature),
            timeout: self.timeout.or(defaults.timeout),
            connect_timeout: self.connect_timeout.or(defaults.connect_timeout),
            retries: self.retries.or(defaults.retries),
        }
    }
}

impl StorageSettings {
    /// The settings for one bucket: its own section over `[s3]`.
    pub fn for_bucket(&self, bucket: &str) -> S3Settings {
        match self.buckets.get(bucket) {
            Some(own) => own.or(&self.s3),
            None => self.s3.clone(),
        }
    }

    /// Reads `catalog_root/storage.toml`; no file means default settings.
    pub fn load(catalog_root: &Path) -> Result<Self> {
        let path = catalog_root.join(STORAGE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(CatalogError::ReadTableFile { path, source }),
        };
        Self::parse(&text, &path)
    }

    fn parse(text: &str, path: &Path) -> Result<Self> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) =
                span.map_or((1, 1), |s| crate::error::line_and_column(text, s.start));
            CatalogError::StorageFile {
                path: PathBuf::from(path),
                line,
                column,
                message,
            }
        };
        let file: StorageFile =
            toml::from_str(text).map_err(|e| at(e.span(), e.message().to_string()))?;
        let top_duration = |field: &str, value: Option<toml::Spanned<String>>| {
            value
                .map(|v| {
                    humantime::parse_duration(v.get_ref()).map_err(|e| {
                        at(
                            Some(v.span()),
                            format!("field '{field}': '{}' is not a duration ({e}); write e.g. '30s' or '5m'", v.get_ref()),
                        )
                    })
                })
                .transpose()
        };
        let listing_ttl = top_duration("listing_ttl", file.listing_ttl)?;
        let query_timeout = top_duration("query_timeout", file.query_timeout)?;
        let settings = |section: S3File, name: &str| -> Result<S3Settings> {
            let duration = |field: &str, value: Option<toml::Spanned<String>>| {
                value
                    .map(|v| {
                        humantime::parse_duration(v.get_ref()).map_err(|e| {
                            at(
                                Some(v.span()),
                                format!("{name}: field '{field}': '{}' is not a duration ({e}); write e.g. '30s'", v.get_ref()),
                            )
                        })
                    })
                    .transpose()
            };
            Ok(S3Settings {
                region: section.region,
                endpoint: section.endpoint,
                path_style: section.path_style,
                allow_http: section.allow_http,
                profile: section.profile,
                skip_signature: section.skip_signature,
                timeout: duration("timeout", section.timeout)?,
                connect_timeout: duration("connect_timeout", section.connect_timeout)?,
                retries: section.retries,
            })
        };
        let mut s3 = file.s3.unwrap_or_default();
        let buckets = std::mem::take(&mut s3.buckets)
            .into_iter()
            .map(|(bucket, section)| {
                let name = format!("[s3.buckets.{bucket}]");
                Ok((bucket, settings(section, &name)?))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            s3: settings(s3, "[s3]")?,
            buckets,
            listing_ttl,
            query_timeout,
            warehouse: file.warehouse,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageFile {
    s3: Option<S3File>,
    listing_ttl: Option<toml::Spanned<String>>,
    query_timeout: Option<toml::Spanned<String>>,
    warehouse: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3File {
    region: Option<String>,
    endpoint: Option<String>,
    path_style: Option<bool>,
    allow_http: Option<bool>,
    profile: Option<String>,
    skip_signature: Option<bool>,
    timeout: Option<toml::Spanned<String>>,
    connect_timeout: Option<toml::Spanned<String>>,
    retries: Option<usize>,
    #[serde(default)]
    buckets: BTreeMap<String, S3File>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StorageSettings> {
        StorageSettings::parse(text, Path::new("catalog/storage.toml"))
    }

    #[test]
    fn a_query_timeout_is_a_duration_and_a_bad_one_is_placed() {
        let settings = parse("query_timeout = \"30m\"\n").unwrap();
        assert_eq!(settings.query_timeout, Some(Duration::from_secs(1800)));
        let error = parse("\nquery_timeout = \"later\"\n").unwrap_err();
        assert!(
            error.to_string().starts_with(
                "catalog/storage.toml:2:17: field 'query_timeout': 'later' is not a duration"
            ),
            "{error}"
        );
    }

    #[test]
    fn bucket_sections_override_the_defaults_field_by_field() {
        let settings = parse(
            r#"
            listing_ttl = "2m"
            [s3]
            region = "eu-central-1"
            profile = "analytics"
            timeout = "45s"
            [s3.buckets.local]
            endpoint = "http://127.0.0.1:9000"
            path_style = true
            allow_http = true
            "#,
        )
        .unwrap();
        assert_eq!(settings.listing_ttl, Some(Duration::from_secs(120)));
        assert_eq!(settings.query_timeout, None);
        let local = settings.for_bucket("local");
        assert_eq!(local.region.as_deref(), Some("eu-central-1"));
        assert_eq!(local.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(local.path_style, Some(true));
        assert_eq!(local.timeout, Some(Duration::from_secs(45)));
        let other = settings.for_bucket("other");
        assert_eq!(other.endpoint, None);
        assert_eq!(other.profile.as_deref(), Some("analytics"));
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let error = parse("[s3]\nregion = \"x\"\ntimeout = \"soon\"\n").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(
                "catalog/storage.toml:3:11: [s3]: field 'timeout': 'soon' is not a duration"
            ),
            "{message}"
        );
        let error = parse("[s3]\nsecret_access_key = \"x\"\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown field `secret_access_key`"),
            "{error}"
        );
    }

    #[test]
    fn no_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            StorageSettings::load(dir.path()).unwrap(),
            StorageSettings::default()
        );
    }
}
