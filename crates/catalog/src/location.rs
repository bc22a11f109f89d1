//! Where a table's (or a partition's) files are: a local directory or an object store URL.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use url::Url;

use crate::error::ValueError;

/// Where a table's files live: a URL naming an object store and a prefix in it.
///
/// A local path in a table file is taken relative to the catalog directory, so a catalog and
/// the lake beside it can move together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    url: Url,
    written: String,
}

impl Location {
    /// Parses a location as written in a table file. `base` anchors relative local paths.
    pub fn parse(written: &str, base: &Path) -> Result<Self, ValueError> {
        let written = written.trim();
        if written.is_empty() {
            return Err(ValueError::EmptyLocation);
        }
        let mut url = if written.contains("://") {
            Url::parse(written).map_err(|reason| ValueError::BadUrl {
                written: written.to_string(),
                reason,
            })?
        } else {
            let bad_path = || ValueError::BadLocalPath {
                written: written.to_string(),
            };
            let path = normalize(&base.join(written));
            let path = std::path::absolute(&path).map_err(|_| bad_path())?;
            Url::from_directory_path(&path).map_err(|()| bad_path())?
        };
        if url.scheme() == "s3a" {
            // `s3a` and `s3` are both special schemes, so this cannot fail.
            url.set_scheme("s3").expect("s3a and s3 are both special");
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self {
            url,
            written: written.to_string(),
        })
    }

    /// The full URL of the table's root, ending in `/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The location as the table file wrote it.
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// The object store this table lives in: `scheme://authority` (`file://`, `s3://bucket`).
    pub fn store_url(&self) -> String {
        format!("{}://{}", self.url.scheme(), self.url.authority())
    }

    /// The table's root inside its object store.
    pub fn prefix(&self) -> object_store::path::Path {
        object_store::path::Path::from_url_path(self.url.path()).unwrap_or_default()
    }

    /// The directory on this machine, for a `file://` location.
    pub fn local_path(&self) -> Option<PathBuf> {
        (self.url.scheme() == "file")
            .then(|| self.url.to_file_path().ok())
            .flatten()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

/// Removes `.` and folds `..` without touching the file system (the path may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_locations_are_anchored_at_the_catalog() {
        let loc = Location::parse("../lake/views", Path::new("/data/catalog")).unwrap();
        assert_eq!(loc.url().as_str(), "file:///data/lake/views/");
        assert_eq!(loc.store_url(), "file://");
        assert_eq!(loc.prefix().as_ref(), "data/lake/views");
        assert_eq!(loc.local_path(), Some(PathBuf::from("/data/lake/views/")));
        assert_eq!(loc.as_written(), "../lake/views");
    }

    #[test]
    fn urls_keep_their_store() {
        let loc = Location::parse("s3://bucket/events/views", Path::new("/x")).unwrap();
        assert_eq!(loc.url().as_str(), "s3://bucket/events/views/");
        assert_eq!(loc.store_url(), "s3://bucket");
        assert_eq!(loc.prefix().as_ref(), "events/views");
        assert_eq!(loc.local_path(), None);
        let s3a = Location::parse("s3a://bucket/t/", Path::new("/x")).unwrap();
        assert_eq!(s3a.store_url(), "s3://bucket");
        assert!(
            Location::parse("s3://", Path::new("/x")).is_ok_and(|l| l.prefix().as_ref().is_empty())
        );
        assert!(Location::parse("", Path::new("/x")).is_err());
    }
}
