//! What can go wrong reaching an object store.

use std::sync::Arc;

use minerva_catalog::CatalogError;

use crate::failure::Failure;

/// A store cannot be found or set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No store serves this URL's scheme.
    #[error("no object store for '{url}' (supported: local paths, file:// and s3:// URLs)")]
    NoStore {
        /// The store URL (`scheme://authority`).
        url: String,
    },

    /// `storage.toml` could not be read, so no S3 client can be built.
    #[error(transparent)]
    Settings(Arc<CatalogError>),

    /// The AWS profile named by `--profile` or `storage.toml` is in neither AWS file.
    #[error(
        "cannot use bucket '{bucket}': AWS profile '{profile}' is not in ~/.aws/config or ~/.aws/credentials"
    )]
    MissingProfile {
        /// The bucket being set up.
        bucket: String,
        /// The profile's name.
        profile: String,
    },

    /// The profile gets credentials in a way Minerva does not run itself (SSO, roles).
    #[error(
        "cannot use bucket '{bucket}': AWS profile '{profile}' gets credentials by {how}, which Minerva does not run itself: add `credential_process = aws configure export-credentials --profile {profile} --format process` to a profile and use that one"
    )]
    UnsupportedCredentials {
        /// The bucket being set up.
        bucket: String,
        /// The profile's name.
        profile: String,
        /// The mechanism (`single sign-on (sso_*)`).
        how: &'static str,
    },

    /// object_store refused the client's configuration.
    #[error("cannot use bucket '{bucket}': {}", Failure::of(source))]
    Client {
        /// The bucket being set up.
        bucket: String,
        /// What object_store said.
        #[source]
        source: object_store::Error,
    },
}
