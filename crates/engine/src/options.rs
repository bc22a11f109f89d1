//! Minerva's session settings (`SET minerva.<name> = …`), read by the session, the scans and
//! the dense path alike.

use datafusion::common::config::{ConfigExtension, ConfigOptions};
use datafusion::common::extensions_options;

extensions_options! {
    /// Minerva's session settings, set with `SET minerva.<name> = …` (and Trino's
    /// `SET SESSION <name> = …` for those Trino has).
    pub struct MinervaOptions {
        /// Steps a recursive query may take before it fails (Trino's `max_recursion_depth`).
        pub max_recursion_depth: usize, default = 10
        /// Row groups (and their requests) one scan of a remote store keeps in flight at most
        /// while it fetches them ahead of decoding; DataFusion's scans read in half as many
        /// streams.
        pub io_concurrency: usize, default = 32
        /// Bytes one scan of a remote store holds fetched ahead and not yet decoded, at most
        /// (a row group larger than this is fetched alone).
        pub read_ahead_bytes: usize, default = 256 << 20
        /// Plans each dense aggregation as partial states over shares of its files and one
        /// merge of them (a cluster's coordinator sets it, so that workers read the shares);
        /// in one process the answers are the same.
        pub dense_partials: bool, default = false
    }
}

impl ConfigExtension for MinervaOptions {
    const PREFIX: &'static str = "minerva";
}

impl MinervaOptions {
    /// The settings in `config`, or the defaults.
    pub fn of(config: &ConfigOptions) -> Self {
        config
            .extensions
            .get::<MinervaOptions>()
            .cloned()
            .unwrap_or_default()
    }
}
