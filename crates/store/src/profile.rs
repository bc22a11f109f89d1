//! Profiles of the AWS shared config and credentials files (`~/.aws/config`,
//! `~/.aws/credentials`), as the AWS CLI and SDKs read them.
//!
//! object_store reads the environment, web identity, container and instance credentials, but not
//! these files. The format is close to INI but not INI: `[profile name]` in the config file and
//! `[name]` in the credentials file, and indented lines that belong to the key above (`s3 =`
//! sub-sections), so it is parsed here rather than with a generic INI reader.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The settings of one profile, merged from both files (credentials win for keys).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    pub(crate) name: String,
    settings: BTreeMap<String, String>,
}

/// Secrets stay out of logs and error messages.
impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("keys", &self.settings.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// How a profile provides credentials.
#[derive(PartialEq, Eq)]
pub(crate) enum ProfileCredentials<'a> {
    /// Keys written in the files.
    Static {
        key_id: &'a str,
        secret: &'a str,
        token: Option<&'a str>,
    },
    /// A command that prints them as JSON (`credential_process`).
    Process(&'a str),
    /// A mechanism Minerva does not run itself (SSO, role assumption): what it is.
    Unsupported(&'static str),
    /// None: the rest of the chain decides.
    None,
}

impl Profile {
    /// The profile `name` from the files in their standard places (`AWS_CONFIG_FILE`,
    /// `AWS_SHARED_CREDENTIALS_FILE` override them); `None` if neither file mentions it.
    pub(crate) fn load(name: &str) -> Option<Profile> {
        let home = dirs::home_dir();
        let config = std::env::var_os("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join("config")));
        let credentials = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join("credentials")));
        let read = |path: Option<PathBuf>| path.and_then(|p| std::fs::read_to_string(p).ok());
        Self::from_texts(name, read(config).as_deref(), read(credentials).as_deref())
    }

    /// The profile to use when none is named: `AWS_PROFILE`, else `default`.
    pub(crate) fn default_name() -> String {
        std::env::var("AWS_PROFILE")
            .or_else(|_| std::env::var("AWS_DEFAULT_PROFILE"))
            .unwrap_or_else(|_| "default".to_string())
    }

    fn from_texts(name: &str, config: Option<&str>, credentials: Option<&str>) -> Option<Profile> {
        let from_config = config.and_then(|text| {
            section(text, |header| {
                header == format!("profile {name}") || (name == "default" && header == "default")
            })
        });
        let from_credentials = credentials.and_then(|text| section(text, |header| header == name));
        if from_config.is_none() && from_credentials.is_none() {
            return None;
        }
        let mut settings = from_config.unwrap_or_default();
        settings.extend(from_credentials.unwrap_or_default());
        Some(Profile {
            name: name.to_string(),
            settings,
        })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }

    pub(crate) fn credentials(&self) -> ProfileCredentials<'_> {
        if let (Some(key_id), Some(secret)) = (
            self.get("aws_access_key_id"),
            self.get("aws_secret_access_key"),
        ) {
            return ProfileCredentials::Static {
                key_id,
                secret,
                token: self.get("aws_session_token"),
            };
        }
        if let Some(command) = self.get("credential_process") {
            return ProfileCredentials::Process(command);
        }
        if self.get("sso_session").is_some() || self.get("sso_start_url").is_some() {
            return ProfileCredentials::Unsupported("single sign-on (sso_*)");
        }
        if self.get("role_arn").is_some() {
            return ProfileCredentials::Unsupported("role assumption (role_arn)");
        }
        ProfileCredentials::None
    }
}

/// The keys of the first section whose header satisfies `matches`. Keys are lower-cased;
/// indented lines continue the key above them and are skipped (nested `s3 =` settings).
fn section(text: &str, matches: impl Fn(&str) -> bool) -> Option<BTreeMap<String, String>> {
    let mut found: Option<BTreeMap<String, String>> = None;
    let mut inside = false;
    for line in text.lines() {
        let indented = line.starts_with([' ', '\t']);
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.split_whitespace().collect::<Vec<_>>().join(" ");
            inside = found.is_none() && matches(&header);
            if inside {
                found = Some(BTreeMap::new());
            }
            continue;
        }
        if !inside || indented {
            continue;
        }
        if let (Some(settings), Some((key, value))) = (found.as_mut(), line.split_once('=')) {
            let value = value.trim();
            let value = value
                .split_once(" #")
                .or_else(|| value.split_once(" ;"))
                .map_or(value, |(v, _)| v.trim_end());
            settings.insert(key.trim().to_ascii_lowercase(), value.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "
[default]
region = eu-west-1

[profile lake]
region = ap-northeast-2   # Seoul
endpoint_url = http://127.0.0.1:9000
s3 =
  addressing_style = path

[profile sso]
sso_session = corp
[profile tool]
credential_process = /usr/bin/creds --json
";

    const CREDENTIALS: &str = "
[lake]
aws_access_key_id = AKIDLAKE
aws_secret_access_key = secret/lake
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default
aws_session_token = token
";

    #[test]
    fn merges_config_and_credentials_sections() {
        let lake = Profile::from_texts("lake", Some(CONFIG), Some(CREDENTIALS)).unwrap();
        assert_eq!(lake.get("region"), Some("ap-northeast-2"));
        assert_eq!(lake.get("endpoint_url"), Some("http://127.0.0.1:9000"));
        assert_eq!(
            lake.get("addressing_style"),
            None,
            "nested keys are not the profile's"
        );
        assert!(matches!(
            lake.credentials(),
            ProfileCredentials::Static {
                key_id: "AKIDLAKE",
                secret: "secret/lake",
                token: None
            }
        ));
        let default = Profile::from_texts("default", Some(CONFIG), Some(CREDENTIALS)).unwrap();
        assert_eq!(default.get("region"), Some("eu-west-1"));
        assert!(matches!(
            default.credentials(),
            ProfileCredentials::Static {
                token: Some("token"),
                ..
            }
        ));
    }

    #[test]
    fn tells_how_credentials_come() {
        let tool = Profile::from_texts("tool", Some(CONFIG), None).unwrap();
        assert!(matches!(
            tool.credentials(),
            ProfileCredentials::Process("/usr/bin/creds --json")
        ));
        let sso = Profile::from_texts("sso", Some(CONFIG), None).unwrap();
        assert!(matches!(
            sso.credentials(),
            ProfileCredentials::Unsupported(_)
        ));
        assert!(Profile::from_texts("nope", Some(CONFIG), Some(CREDENTIALS)).is_none());
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let lake = Profile::from_texts("lake", Some(CONFIG), Some(CREDENTIALS)).unwrap();
        let shown = format!("{lake:?}");
        assert!(
            !shown.contains("secret/lake") && !shown.contains("AKIDLAKE"),
            "{shown}"
        );
    }
}
