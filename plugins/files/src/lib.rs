//! `switchboard-files`: a data-source connector over local folders.
//!
//! It shares the configured root folders: full-text search over file names and contents (an
//! FTS5 index in the plugin's own SQLite file), fetching a file as a document, browsing
//! folders, each root as a `file://` resource, and (unless `writable: false`) writing, moving,
//! deleting files and creating folders under the same confinement rules. It is built to stay
//! usable on a whole home folder: hidden and build folders are skipped, binary files are
//! indexed by name only, large files are cut at a configurable size, and the index is kept
//! current off the query path: a background thread follows a file watcher, the write tools'
//! changes and periodic walks, and a new process answers from the index it left.
//!
//! This file is the glue between the switchboard [`Connector`] interface and the modules that
//! do the work: [`config`] (settings), [`paths`], [`target`] and [`filter`] (what may be
//! reached), [`beneath`] (reaching it: opened beneath a root handle, no symlink followed), [`scan`], [`index`], [`indexer`] and
//! [`watch`] (the search index and its upkeep), [`search`], [`query`] (safe FTS queries) and
//! [`snippet`] (answering from it), [`content`] (text vs binary, size cap), [`listing`] (folders), [`atomic`] (changes
//! nobody sees half of), and the MCP surfaces [`tools`], [`write`] and [`resources`]. It owns the connector's state: the resolved roots and the
//! [`indexer::Indexer`].

pub mod atomic;
pub mod beneath;
pub mod config;
pub mod content;
pub mod filter;
pub mod index;
pub mod indexer;
pub mod known;
pub mod listing;
pub mod paths;
pub mod query;
pub mod reconcile;
pub mod resources;
pub mod scan;
pub mod search;
pub mod snippet;
pub mod target;
pub mod time;
pub mod tokens;
pub mod tools;
pub mod watch;
pub mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_plugin_api::model::{
    Catalog, Completion, CompletionRequest, Document, JsonObject, ResourceRead, SearchHit,
    SearchRequest,
};
use switchboard_plugin_api::{
    Call, Connector, ErrorKind, Host, LogLevel, Manifest, PluginError, Settings, Tools,
};

use crate::config::Config;
use crate::content::Contents;
use crate::indexer::{Change, Indexer, Observer};
use crate::paths::{PathError, Resolved, Roots, file_uri};
use crate::search::{Hit, Query};

/// Most hits one search returns, whatever the request asks.
pub const MAX_HITS: usize = 100;

/// The connector.
pub struct Files {
    host: Host,
    config: Config,
    roots: Arc<Roots>,
    home: Option<PathBuf>,
    data_dir: PathBuf,
    indexer: Indexer,
    tools: Tools<Files>,
}

impl From<PathError> for PluginError {
    fn from(error: PathError) -> Self {
        let kind = match error {
            PathError::Missing(_) => ErrorKind::NOT_FOUND,
            PathError::Io(..) => ErrorKind::FAILED,
            _ => ErrorKind::INVALID_INPUT,
        };
        PluginError::new(kind, error.to_string())
    }
}

/// The note appended to text cut at the size cap.
pub fn cut_note(shown: usize, size: u64) -> String {
    format!(
        "\n\n[Text cut: the first {shown} of {size} bytes are shown (max_file_size). \
         Use the read tool with an offset to see the rest.]"
    )
}

impl Files {
    /// The shared roots and their rules.
    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Resolve a path a client gave (absolute or starting with `~`) under the confinement
    /// rules.
    pub fn resolve(&self, requested: &str) -> Result<Resolved, PathError> {
        self.roots.resolve_str(requested, self.home.as_deref())
    }

    /// The plugin's own data folder (canonical), which the write tools never touch.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Bring the search index in line with a change the write tools made.
    pub fn follow(&self, change: Change<'_>) {
        self.indexer.follow(change);
    }

    /// Expand a leading `~` in a path a client gave.
    pub fn expand(&self, requested: &str) -> PathBuf {
        config::expand_home(requested, self.home.as_deref())
    }

    /// Search the index, bringing it up to date first.
    pub fn search_files(
        &self,
        text: &str,
        limit: usize,
        path_prefix: Option<&str>,
        call: &Call,
    ) -> Result<Vec<Hit>, PluginError> {
        let limit = limit.min(MAX_HITS);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let notice = |text: &str| {
            self.host.log(LogLevel::INFO, text);
            call.log(LogLevel::NOTICE, "files", &Value::String(text.to_string()));
        };
        let report = |done: usize, total: usize| {
            call.progress(
                done as f64,
                Some(total as f64),
                &format!("indexing {total} files"),
            );
        };
        let cancelled = || call.is_cancelled();
        let observer = Observer {
            report: &report,
            cancelled: &cancelled,
            notice: &notice,
        };
        self.indexer.search(
            &observer,
            &Query {
                text,
                limit,
                path_prefix,
            },
        )
    }

    /// A file as a document: its text (cut at the size cap, with a note) and metadata.
    pub fn document(&self, id: &str) -> Result<Document, PluginError> {
        let resolved = self.resolve(id)?;
        if resolved.is_dir {
            return Err(PluginError::new(
                ErrorKind::INVALID_INPUT,
                format!("{id} is a folder, not a document"),
            ));
        }
        let path = &resolved.path;
        let shown = path.display().to_string();
        let file = self.roots.open_file(&resolved)?;
        let metadata = file.metadata().map_err(|e| {
            PluginError::new(ErrorKind::FAILED, format!("cannot read {shown}: {e}"))
        })?;
        let (mut text, truncated) = match content::read_capped(file, self.config.max_file_size) {
            Ok(Contents::Text { text, truncated }) => (text, truncated),
            Ok(Contents::Binary) => {
                return Err(PluginError::new(
                    ErrorKind::INVALID_INPUT,
                    format!("{shown} is a binary file; only text files can be fetched"),
                ));
            }
            Err(e) => {
                return Err(PluginError::new(
                    ErrorKind::FAILED,
                    format!("cannot read {shown}: {e}"),
                ));
            }
        };
        if truncated {
            text.push_str(&cut_note(text.len(), metadata.len()));
        }
        let mut meta = JsonObject::new();
        meta.insert("size".into(), json!(metadata.len()));
        if let Ok(modified) = metadata.modified() {
            meta.insert(
                "modified".into(),
                json!(time::rfc3339(time::unix_seconds(modified))),
            );
        }
        let root = self
            .roots
            .roots()
            .get(resolved.root)
            .map(|r| r.path.display().to_string());
        meta.insert("root".into(), json!(root));
        meta.insert("truncated".into(), json!(truncated));
        meta.insert("mimeType".into(), json!(content::mime_type(path)));
        Ok(Document {
            id: id.to_string(),
            title: paths::display_name(path),
            text,
            url: Some(file_uri(path)),
            metadata: meta,
        })
    }
}

impl Connector for Files {
    fn manifest() -> Manifest {
        Manifest::new("files", env!("CARGO_PKG_VERSION"))
            .description(
                "Search, browse and read text files in local folders (full-text index of names \
                 and contents), and write, move and delete them there (unless writable: false)",
            )
            .config_schema(Config::schema())
            .data_source("Local files")
    }

    fn new(host: Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::from_value(config)?;
        let home = config::home_dir();
        let (roots, warnings) = Roots::new(&config, home.as_deref())
            .map_err(|e| PluginError::new(ErrorKind::INVALID_INPUT, e))?;
        for warning in &warnings {
            host.log(LogLevel::WARNING, warning);
        }
        if roots.roots().is_empty() {
            host.log(
                LogLevel::WARNING,
                "none of the configured roots exists; there is nothing to search",
            );
        }
        let data_dir = host.data_dir();
        let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
        let roots = Arc::new(roots);
        let indexer = Indexer::new(
            host.clone(),
            config.clone(),
            roots.clone(),
            data_dir.clone(),
        );
        Ok(Self {
            host,
            tools: tools::tools(config.writable),
            config,
            roots,
            home,
            data_dir,
            indexer,
        })
    }

    fn catalog(&self) -> Catalog {
        Catalog {
            tools: self.tools.definitions(),
            resources: resources::resources(self),
            resource_templates: resources::templates(),
            prompts: Vec::new(),
        }
    }

    fn tools(&self) -> Option<&Tools<Self>> {
        Some(&self.tools)
    }

    fn read_resource(&self, uri: &str, _call: &Call) -> Result<ResourceRead, PluginError> {
        resources::read(self, uri)
    }

    fn complete(
        &self,
        request: CompletionRequest,
        _call: &Call,
    ) -> Result<Completion, PluginError> {
        Ok(resources::complete(self, &request))
    }

    fn search(&self, request: SearchRequest, call: &Call) -> Result<Vec<SearchHit>, PluginError> {
        let limit = usize::try_from(request.limit).unwrap_or(MAX_HITS);
        let hits = self.search_files(&request.query, limit, None, call)?;
        Ok(hits
            .into_iter()
            .map(|hit| SearchHit {
                url: Some(file_uri(std::path::Path::new(&hit.path))),
                id: hit.path,
                title: hit.name,
                snippet: hit.snippet,
                score: Some(hit.score),
            })
            .collect())
    }

    fn fetch(&self, id: &str, _call: &Call) -> Result<Document, PluginError> {
        self.document(id)
    }

    fn shutdown(&self) {
        self.indexer.shutdown();
    }
}

switchboard_plugin_api::export_connector!(Files);

#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upkeep_tests;
#[cfg(test)]
mod write_tests;
