//! The shell's settings and where each came from: built-in defaults, then the settings file
//! (`~/.config/minerva/config.toml`, or `$MINERVA_CONFIG`), then the environment, then flags,
//! then `\set` in the shell. `\set` alone lists them with their sources.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use minerva_catalog::{display_byte_size, parse_byte_size};
use serde::Deserialize;

use crate::args::OutputFormat;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Minerva's built-in default.
    Default,
    /// The settings file.
    File(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag,
    /// `\set` in this shell.
    Set,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Env(name) => write!(f, "env {name}"),
            Self::Flag => f.write_str("flag"),
            Self::Set => f.write_str("\\set"),
        }
    }
}

/// A value and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    fn default(value: T) -> Self {
        Self {
            value,
            source: Source::Default,
        }
    }

    /// Replaces the value if `value` is given, recording where it came from.
    fn layer(&mut self, value: Option<T>, source: Source) {
        if let Some(value) = value {
            *self = Self { value, source };
        }
    }
}

/// When results print one column per line (psql's `\x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expanded {
    Off,
    On,
    /// Only when the table would be wider than the terminal.
    Auto,
}

impl Expanded {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" => Some(Self::On),
            "off" | "false" | "0" => Some(Self::Off),
            "auto" => Some(Self::Auto),
            _ => None,
        }
    }
}

impl fmt::Display for Expanded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Auto => "auto",
        })
    }
}

/// The settings file, as written. Every key is optional; unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub catalog: Option<PathBuf>,
    pub format: Option<String>,
    pub history_size: Option<usize>,
    pub profile: Option<String>,
    pub cluster: Option<String>,
    pub max_scan: Option<String>,
    pub timeout: Option<String>,
    pub null: Option<String>,
    pub pager: Option<String>,
    pub expanded: Option<String>,
    pub timing: Option<bool>,
}

/// Why the settings cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file '{}': {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file '{}': {}", file.display(), source.message().trim())]
    Parse {
        file: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{origin}: '{key}' cannot be '{value}': {expected}")]
    Value {
        /// The file or variable the value came from.
        origin: String,
        key: &'static str,
        value: String,
        expected: String,
    },
}

impl File {
    /// The settings file's path: `$MINERVA_CONFIG`, else `config.toml` in the user's config
    /// directory (`~/.config/minerva/` on Linux).
    pub fn path() -> Option<PathBuf> {
        match std::env::var_os("MINERVA_CONFIG") {
            Some(path) => Some(PathBuf::from(path)),
            None => dirs::config_dir().map(|dir| dir.join("minerva").join("config.toml")),
        }
    }

    /// Reads `path`; a missing file is no settings.
    pub fn read(path: &Path) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(SettingsError::Read {
                    file: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|source| SettingsError::Parse {
            file: path.to_path_buf(),
            source: Box::new(source),
        })
    }
}

/// The shell's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub catalog: Sourced<PathBuf>,
    pub format: Sourced<OutputFormat>,
    pub history_size: Sourced<usize>,
    pub profile: Sourced<Option<String>>,
    /// The workers queries run on (`--cluster`), read at start.
    pub cluster: Sourced<Option<String>>,
    pub max_scan: Sourced<Option<u64>>,
    pub timeout: Sourced<Option<Duration>>,
    /// How NULL prints in text formats.
    pub null: Sourced<String>,
    /// The pager for results taller or wider than the terminal (`None`: never page).
    pub pager: Sourced<Option<String>>,
    pub expanded: Sourced<Expanded>,
    pub timing: Sourced<bool>,
}

/// What the environment holds, read once (tests pass their own).
pub type Env = dyn Fn(&'static str) -> Option<String>;

impl Settings {
    /// The defaults, layered with `file` (read from `path`) and the environment; flags are
    /// layered on by the caller with [`Settings::flag`].
    pub fn load(file: &File, path: &Path, env: &Env) -> Result<Self, SettingsError> {
        let from_file = Source::File(path.to_path_buf());
        let origin = path.display().to_string();
        let mut settings = Self {
            catalog: Sourced::default(PathBuf::from("catalog")),
            format: Sourced::default(OutputFormat::Table),
            history_size: Sourced::default(10_000),
            profile: Sourced::default(None),
            cluster: Sourced::default(None),
            max_scan: Sourced::default(None),
            timeout: Sourced::default(None),
            null: Sourced::default("NULL".to_string()),
            pager: Sourced::default(Some("less -S".to_string())),
            expanded: Sourced::default(Expanded::Off),
            timing: Sourced::default(false),
        };
        // `~/…` is the home directory; a relative path is relative to the settings file.
        let catalog =
            file.catalog
                .as_ref()
                .map(|dir| match (dir.strip_prefix("~"), dirs::home_dir()) {
                    (Ok(rest), Some(home)) => home.join(rest),
                    _ => path.parent().unwrap_or(Path::new("")).join(dir),
                });
        settings.catalog.layer(catalog, from_file.clone());
        settings.format.layer(
            file.format
                .as_deref()
                .map(|v| format(v, &origin))
                .transpose()?,
            from_file.clone(),
        );
        settings
            .history_size
            .layer(file.history_size, from_file.clone());
        settings
            .profile
            .layer(file.profile.clone().map(Some), from_file.clone());
        settings
            .cluster
            .layer(file.cluster.clone().map(Some), from_file.clone());
        settings.max_scan.layer(
            file.max_scan
                .as_deref()
                .map(|v| max_scan(v, &origin))
                .transpose()?,
            from_file.clone(),
        );
        settings.timeout.layer(
            file.timeout
                .as_deref()
                .map(|v| timeout(v, &origin))
                .transpose()?,
            from_file.clone(),
        );
        settings.null.layer(file.null.clone(), from_file.clone());
        settings
            .pager
            .layer(file.pager.as_deref().map(pager), from_file.clone());
        settings.expanded.layer(
            file.expanded
                .as_deref()
                .map(|v| expanded(v, &origin))
                .transpose()?,
            from_file.clone(),
        );
        settings.timing.layer(file.timing, from_file);

        // The environment: Minerva's own variables, and psql's PAGER.
        for name in ["PAGER", "MINERVA_PAGER"] {
            settings
                .pager
                .layer(env(name).map(|v| pager(&v)), Source::Env(name));
        }
        if let Some(value) = env("MINERVA_NULL") {
            settings
                .null
                .layer(Some(value), Source::Env("MINERVA_NULL"));
        }
        if let Some(value) = env("MINERVA_HISTORY_SIZE") {
            let size = value.parse().map_err(|_| SettingsError::Value {
                origin: "MINERVA_HISTORY_SIZE".into(),
                key: "history_size",
                value: value.clone(),
                expected: "a number of statements".into(),
            })?;
            settings
                .history_size
                .layer(Some(size), Source::Env("MINERVA_HISTORY_SIZE"));
        }
        if let Some(value) = env("MINERVA_EXPANDED") {
            settings.expanded.layer(
                Some(expanded(&value, "MINERVA_EXPANDED")?),
                Source::Env("MINERVA_EXPANDED"),
            );
        }
        Ok(settings)
    }

    /// Sets `name` to `value` as `\set` does; returns what it now reads as.
    pub fn set(&mut self, name: &str, value: &str) -> Result<String, SettingsError> {
        let origin = "\\set";
        match name {
            "format" => self.format.layer(Some(format(value, origin)?), Source::Set),
            "null" => self.null.layer(Some(value.to_string()), Source::Set),
            "pager" => self.pager.layer(Some(pager(value)), Source::Set),
            "expanded" => self
                .expanded
                .layer(Some(expanded(value, origin)?), Source::Set),
            "timing" => self.timing.layer(
                Some(on_off(value).ok_or_else(|| SettingsError::Value {
                    origin: origin.into(),
                    key: "timing",
                    value: value.into(),
                    expected: "on or off".into(),
                })?),
                Source::Set,
            ),
            "max_scan" => self
                .max_scan
                .layer(Some(max_scan(value, origin)?), Source::Set),
            "timeout" => self
                .timeout
                .layer(Some(timeout(value, origin)?), Source::Set),
            _ => {
                return Err(SettingsError::Value {
                    origin: origin.into(),
                    key: "setting",
                    value: name.to_string(),
                    expected: format!("the settings are {}", SETTABLE.join(", ")),
                });
            }
        }
        Ok(self.show(name).unwrap_or_default())
    }

    /// Puts `name` back to its default (`\unset`).
    pub fn unset(&mut self, name: &str) -> Result<String, SettingsError> {
        let defaults = Self::load(&File::default(), Path::new(""), &|_| None)?;
        match name {
            "format" => self.format = defaults.format,
            "null" => self.null = defaults.null,
            "pager" => self.pager = defaults.pager,
            "expanded" => self.expanded = defaults.expanded,
            "timing" => self.timing = defaults.timing,
            "max_scan" => self.max_scan = defaults.max_scan,
            "timeout" => self.timeout = defaults.timeout,
            _ => {
                return Err(SettingsError::Value {
                    origin: "\\unset".into(),
                    key: "setting",
                    value: name.to_string(),
                    expected: format!("the settings are {}", SETTABLE.join(", ")),
                });
            }
        }
        Ok(self.show(name).unwrap_or_default())
    }

    /// `name = value` for one setting.
    pub fn show(&self, name: &str) -> Option<String> {
        self.rows()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(n, v, _)| format!("{n} = {v}"))
    }

    /// Every setting: name, value, source.
    pub fn rows(&self) -> Vec<(&'static str, String, &Source)> {
        let off = |v: Option<String>| v.unwrap_or_else(|| "off".to_string());
        vec![
            (
                "catalog",
                self.catalog.value.display().to_string(),
                &self.catalog.source,
            ),
            (
                "format",
                self.format.value.name().to_string(),
                &self.format.source,
            ),
            (
                "history_size",
                self.history_size.value.to_string(),
                &self.history_size.source,
            ),
            (
                "profile",
                self.profile
                    .value
                    .clone()
                    .unwrap_or_else(|| "(none)".into()),
                &self.profile.source,
            ),
            (
                "cluster",
                off(self.cluster.value.clone()),
                &self.cluster.source,
            ),
            (
                "max_scan",
                off(self.max_scan.value.map(display_byte_size)),
                &self.max_scan.source,
            ),
            (
                "timeout",
                off(self
                    .timeout
                    .value
                    .map(|d| humantime::format_duration(d).to_string())),
                &self.timeout.source,
            ),
            ("null", format!("'{}'", self.null.value), &self.null.source),
            ("pager", off(self.pager.value.clone()), &self.pager.source),
            (
                "expanded",
                self.expanded.value.to_string(),
                &self.expanded.source,
            ),
            (
                "timing",
                if self.timing.value { "on" } else { "off" }.to_string(),
                &self.timing.source,
            ),
        ]
    }

    /// Every setting as aligned lines: `name = value   (source)`.
    pub fn describe(&self) -> String {
        let rows = self.rows();
        let width = rows
            .iter()
            .map(|(n, v, _)| n.len() + v.chars().count() + 3)
            .max()
            .unwrap_or(0);
        rows.iter()
            .map(|(n, v, s)| {
                let text = format!("{n} = {v}");
                let pad = width.saturating_sub(text.chars().count());
                format!("{text}{}  ({s})", " ".repeat(pad))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The settings of this run: defaults, the settings file, the environment, then `args`'
/// flags (`matches` tells a flag from clap's own defaults and environment variables).
pub fn resolve(args: &crate::args::Args, matches: &clap::ArgMatches) -> anyhow::Result<Settings> {
    use clap::parser::ValueSource;
    let path = File::path().unwrap_or_default();
    let file = if path.as_os_str().is_empty() {
        File::default()
    } else {
        File::read(&path)?
    };
    let mut settings = Settings::load(&file, &path, &|name| std::env::var(name).ok())?;
    // clap reads these flags' variables itself: which one gave the value decides its source.
    let source = |id: &str, env: &'static str| match matches.value_source(id) {
        Some(ValueSource::CommandLine) => Some(Source::Flag),
        Some(ValueSource::EnvVariable) => Some(Source::Env(env)),
        _ => None,
    };
    if let Some(source) = source("catalog", "MINERVA_CATALOG") {
        settings.catalog.layer(Some(args.catalog.clone()), source);
    }
    if let Some(source) = source("format", "MINERVA_FORMAT") {
        settings.format.layer(args.format, source);
    }
    if let Some(source) = source("profile", "AWS_PROFILE") {
        settings.profile.layer(Some(args.profile.clone()), source);
    }
    if let Some(source) = source("cluster", "MINERVA_CLUSTER") {
        settings.cluster.layer(Some(args.cluster.clone()), source);
    }
    if let Some(source) = source("max_scan", "MINERVA_MAX_SCAN") {
        settings.max_scan.layer(Some(args.max_scan), source);
    }
    if let Some(source) = source("timeout", "MINERVA_TIMEOUT") {
        settings.timeout.layer(Some(args.timeout), source);
    }
    Ok(settings)
}

/// The settings `\set NAME VALUE` changes.
pub const SETTABLE: &[&str] = &[
    "format", "null", "pager", "expanded", "timing", "max_scan", "timeout",
];

fn format(value: &str, origin: &str) -> Result<OutputFormat, SettingsError> {
    use clap::ValueEnum;
    OutputFormat::from_str(value, true).map_err(|_| SettingsError::Value {
        origin: origin.to_string(),
        key: "format",
        value: value.to_string(),
        expected: format!(
            "one of {}",
            OutputFormat::value_variants()
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

fn off(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "off" | "none" | "unlimited"
    )
}

fn max_scan(value: &str, origin: &str) -> Result<Option<u64>, SettingsError> {
    if off(value) {
        return Ok(None);
    }
    parse_byte_size(value)
        .map(Some)
        .map_err(|e| SettingsError::Value {
            origin: origin.to_string(),
            key: "max_scan",
            value: value.to_string(),
            expected: format!("{e} (e.g. 10GB, 500MiB, off)"),
        })
}

fn timeout(value: &str, origin: &str) -> Result<Option<Duration>, SettingsError> {
    if off(value) {
        return Ok(None);
    }
    humantime::parse_duration(value)
        .map(Some)
        .map_err(|e| SettingsError::Value {
            origin: origin.to_string(),
            key: "timeout",
            value: value.to_string(),
            expected: format!("{e} (e.g. 30s, 5m, off)"),
        })
}

fn pager(value: &str) -> Option<String> {
    (!off(value) && !value.trim().is_empty()).then(|| value.trim().to_string())
}

fn expanded(value: &str, origin: &str) -> Result<Expanded, SettingsError> {
    Expanded::parse(value).ok_or_else(|| SettingsError::Value {
        origin: origin.to_string(),
        key: "expanded",
        value: value.to_string(),
        expected: "on, off or auto".into(),
    })
}

fn on_off(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Some(true),
        "off" | "false" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> File {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn layers_defaults_file_env_and_set() {
        let path = Path::new("/home/a/.config/minerva/config.toml");
        let f = file(
            "null = '∅'\npager = 'less -SR'\nmax_scan = '10GB'\ntiming = true\ncluster = 'w1:50051,w2:50051'\n",
        );
        let env = |name: &'static str| (name == "PAGER").then(|| "more".to_string());
        let mut settings = Settings::load(&f, path, &env).unwrap();
        assert_eq!(settings.null.value, "∅");
        assert_eq!(settings.null.source, Source::File(path.to_path_buf()));
        assert_eq!(settings.pager.value.as_deref(), Some("more"));
        assert_eq!(settings.pager.source, Source::Env("PAGER"));
        assert_eq!(settings.max_scan.value, Some(10_000_000_000));
        assert_eq!(settings.format.source, Source::Default);
        let relative = Settings::load(&file("catalog = 'lake/catalog'"), path, &|_| None).unwrap();
        assert_eq!(
            relative.catalog.value,
            Path::new("/home/a/.config/minerva/lake/catalog")
        );
        let absolute = Settings::load(&file("catalog = '/data/catalog'"), path, &|_| None).unwrap();
        assert_eq!(absolute.catalog.value, Path::new("/data/catalog"));
        assert_eq!(settings.set("null", "<null>").unwrap(), "null = '<null>'");
        assert_eq!(settings.null.source, Source::Set);
        assert_eq!(settings.set("pager", "off").unwrap(), "pager = off");
        assert_eq!(settings.unset("null").unwrap(), "null = 'NULL'");
        assert_eq!(settings.null.source, Source::Default);
        let described = settings.describe();
        assert!(described.contains("timing = on"), "{described}");
        assert!(
            described.contains("cluster = w1:50051,w2:50051"),
            "{described}"
        );
        assert!(
            described.contains("(file /home/a/.config/minerva/config.toml)"),
            "{described}"
        );
    }

    #[test]
    fn bad_values_name_their_origin() {
        let path = Path::new("c.toml");
        let error = Settings::load(&file("max_scan = 'lots'"), path, &|_| None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("c.toml: 'max_scan' cannot be 'lots'")
        );
        let error = Settings::load(&file("format = 'xml'"), path, &|_| None).unwrap_err();
        assert!(error.to_string().contains("one of table, csv"), "{error}");
        assert!(toml::from_str::<File>("colour = 'red'").is_err());
        let mut settings = Settings::load(&File::default(), path, &|_| None).unwrap();
        assert!(settings.set("colour", "red").is_err());
        assert!(settings.set("timing", "maybe").is_err());
        assert!(settings.set("expanded", "auto").is_ok());
    }
}
