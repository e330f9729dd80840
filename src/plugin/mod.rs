//! Plugins on the host side: finding libraries, deciding which to load, checking their
//! configuration against the schema they declare, and creating them.
//!
//! A broken library never stops the others: each one ends in a [`Status`] that `plugins list`
//! and `doctor` show, and the ones that loaded become providers. No library file can crash
//! the host: each is loaded from a verified private copy ([`store`]) after its bounds are
//! checked ([`object`]) and, the first time its content is seen, after a child process has
//! opened it without crashing ([`probe`]).

pub mod library;
pub mod object;
pub mod probe;
pub mod provider;
pub mod sections;
pub mod services;
pub mod store;
pub mod watch;
pub mod workers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::std_types::RStr;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::config::{ConnectorConfig, Loaded, Seconds};
use crate::secrets::Reference;
use crate::state::State;
use library::Library;
use provider::PluginProvider;
use services::{HostEvent, PluginHost};

/// What became of one library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// It is loaded and serving.
    Loaded,
    /// It is fine but not enabled (opt-in plugins, `enabled: false`).
    Disabled,
    /// A library of the same plugin in the plugins folder is used instead.
    Shadowed(PathBuf),
    /// The library was refused (not a plugin, incompatible interface...).
    Refused(String),
    /// The plugin refused its configuration or failed to start.
    Failed(String),
}

/// One library found in a plugins folder.
#[derive(Clone, Debug)]
pub struct Found {
    /// The file.
    pub path: PathBuf,
    /// The plugin's manifest, when the library could be read.
    pub manifest: Option<switchboard_plugin_api::Manifest>,
    /// SHA-256 of the file (of its content when it was read and copied).
    pub sha256: Option<String>,
    /// What became of it.
    pub status: Status,
    /// The file's size and modification time (ns) when it was read: what its digest is
    /// recorded under, so an unchanged file is not read again.
    pub stamp: Option<(i64, i64)>,
    /// A newer file of this loaded plugin that appeared while it ran (used from the next
    /// start).
    pub newer: Option<Newer>,
}

/// A newer file of a loaded plugin, waiting for a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Newer {
    /// The version it holds.
    pub version: String,
    /// Its digest.
    pub sha256: String,
}

impl Found {
    fn refused(path: &Path, reason: String, sha256: Option<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            manifest: None,
            sha256,
            status: Status::Refused(reason),
            stamp: None,
            newer: None,
        }
    }
}

/// What the loader needs from the host.
#[derive(Clone)]
pub struct LoadContext {
    /// The configuration.
    pub config: Arc<Loaded>,
    /// The state database.
    pub state: State,
    /// Where plugins report list changes and warnings.
    pub events: UnboundedSender<HostEvent>,
}

/// The folders to scan, in precedence order: the plugins folder, then the bundled folder.
pub fn folders(config: &Loaded) -> Vec<(PathBuf, bool)> {
    let mut folders = vec![(config.plugins_folder(), false)];
    if config.config.plugins.bundled
        && let Some(dir) = bundled_folder()
    {
        folders.push((dir, true));
    }
    folders
}

/// The folder of the switchboard executable, where bundled connectors are built and shipped.
pub fn bundled_folder() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
}

/// The libraries in `folder`, sorted; in the bundled folder only `switchboard_*` libraries.
pub fn libraries_in(folder: &Path, bundled: bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let prefix = format!("{}switchboard_", std::env::consts::DLL_PREFIX);
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && library::is_library(p))
        .filter(|p| {
            !bundled
                || p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    paths.sort();
    paths
}

/// Find and load every plugin. Returns each library's fate and the providers that loaded.
pub fn load_all(ctx: &LoadContext) -> (Vec<Found>, Vec<Arc<PluginProvider>>) {
    let mut found = Vec::new();
    let mut providers = Vec::new();
    let mut taken: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (folder, bundled) in folders(&ctx.config) {
        for path in libraries_in(&folder, bundled) {
            let (entry, provider) = load_path(ctx, &path, bundled, &taken);
            if let (Some(manifest), Status::Loaded | Status::Disabled) =
                (&entry.manifest, &entry.status)
            {
                taken.insert(manifest.name.clone(), path.clone());
            }
            providers.extend(provider);
            found.push(entry);
        }
    }
    // The copies of what is in the folders now stay (with those serving switchboards use).
    let current: BTreeSet<String> = found.iter().filter_map(|f| f.sha256.clone()).collect();
    store::Store::new(&ctx.config.home.state_dir).clean(&current);
    (found, providers)
}

/// Load the library at `path` (`bundled` when it ships with switchboard), unless a plugin of
/// the same name is already `taken` or the configuration does not enable it. Those two are
/// decided from the manifest its probe read, so a library that will not serve is never
/// opened (mapped, relocated, its constructors run) in this process.
pub fn load_path(
    ctx: &LoadContext,
    path: &Path,
    bundled: bool,
    taken: &BTreeMap<String, PathBuf>,
) -> (Found, Option<Arc<PluginProvider>>) {
    let store = store::Store::new(&ctx.config.home.state_dir);
    // Held from making sure the copy exists until it is open (see `store`).
    let _loading = store.loading();
    let (copy, manifest) = match probed_private_copy(ctx, &store, path) {
        Ok(probed) => probed,
        Err((refusal, sha256)) => {
            tracing::error!("plugin refused: {refusal}");
            return (Found::refused(path, refusal.reason, sha256), None);
        }
    };
    let mut entry = Found {
        path: path.to_path_buf(),
        manifest: Some(manifest.clone()),
        sha256: Some(copy.sha256.clone()),
        status: Status::Loaded,
        stamp: copy.stamp,
        newer: None,
    };
    let name = manifest.name.clone();
    if let Some(other) = taken.get(&name) {
        tracing::info!(plugin = %name, used = %other.display(), ignored = %path.display(), "plugin provided twice; using the first");
        entry.status = Status::Shadowed(other.clone());
        return (entry, None);
    }
    let section = ctx
        .config
        .config
        .connectors
        .get(&name)
        .cloned()
        .unwrap_or_default();
    if !section.enabled.unwrap_or(manifest.load_by_default) {
        entry.status = Status::Disabled;
        return (entry, None);
    }
    let library = match library::open(&copy.path) {
        Ok(library) => library,
        Err(refusal) => {
            let refusal = library::Refusal {
                path: path.to_path_buf(),
                reason: refusal.reason,
            };
            tracing::error!("plugin refused: {refusal}");
            return (
                Found::refused(path, refusal.reason, Some(copy.sha256)),
                None,
            );
        }
    };
    // What the library says in this process is what it serves by.
    entry.manifest = Some(library.manifest.clone());
    match instantiate(ctx, &library, &section, bundled) {
        Ok(provider) => {
            tracing::info!(plugin = %name, version = %library.manifest.version, file = %path.display(), "plugin loaded");
            (entry, Some(Arc::new(provider)))
        }
        Err(reason) => {
            tracing::error!(plugin = %name, file = %path.display(), "plugin failed to start: {reason}");
            entry.status = Status::Failed(reason);
            (entry, None)
        }
    }
}

/// The private copy of the library at `path` and its manifest: copied and verified (refused
/// when incomplete), and opened in a probe child if its content was never probed (the
/// manifest is then recorded with the copy). Nothing is opened in this process. A refusal
/// names `path` and carries the digest when the file could be read.
fn probed_private_copy(
    ctx: &LoadContext,
    store: &store::Store,
    path: &Path,
) -> Result<(store::Copy, switchboard_plugin_api::Manifest), (library::Refusal, Option<String>)> {
    let refuse = |reason: String, sha256: Option<String>| {
        (
            library::Refusal {
                path: path.to_path_buf(),
                reason,
            },
            sha256,
        )
    };
    let copy = store
        .prepare(path, |stamp| {
            ctx.state.known_digest(path, stamp).ok().flatten()
        })
        .map_err(|(error, sha256)| refuse(error.to_string(), sha256))?;
    let manifest = match store.probed_manifest(&copy.sha256) {
        Some(manifest) => manifest,
        None => {
            let manifest = probe::probe(&copy.path)
                .map_err(|reason| refuse(reason, Some(copy.sha256.clone())))?;
            store.mark_probed(&copy.sha256, &manifest);
            manifest
        }
    };
    Ok((copy, manifest))
}

fn instantiate(
    ctx: &LoadContext,
    library: &Library,
    section: &ConnectorConfig,
    bundled: bool,
) -> Result<PluginProvider, String> {
    let manifest = &library.manifest;
    sections::check(manifest, section, &ctx.config.source)?;
    let mut secrets = BTreeMap::new();
    for declared in &manifest.secrets {
        let reference = section
            .secrets
            .get(&declared.name)
            .and_then(|r| Reference::parse(r));
        secrets.insert(declared.name.clone(), reference);
    }
    for name in section.secrets.keys() {
        if !secrets.contains_key(name) {
            tracing::warn!(plugin = %manifest.name, secret = %name, "a secret is configured that the plugin does not declare; it will not be given to it");
        }
    }
    let host = PluginHost::new(
        manifest.name.clone(),
        ctx.state.clone(),
        ctx.config.home.plugin_data_dir(&manifest.name),
        secrets,
        crate::secrets::Names::in_state_dir(&ctx.config.home.state_dir),
        ctx.events.clone(),
    );
    let config_json = section.config.to_string();
    let plugin = (library.module.instantiate())(host.into_box(), RStr::from_str(&config_json))
        .into_result()
        .map_err(|e| e.message.to_string())?;
    let prefix = section
        .prefix
        .clone()
        .or_else(|| manifest.default_prefix.clone())
        .unwrap_or_else(|| manifest.name.clone());
    let plugins = &ctx.config.config.plugins;
    let timeout = section.call_timeout.unwrap_or(plugins.call_timeout).get();
    // Connectors shipped with switchboard describe their tools truthfully; others are
    // believed only when the person says so.
    let trusted = section.trust_annotations.unwrap_or(bundled)
        || ctx
            .config
            .config
            .approvals
            .trust_annotations
            .contains(&manifest.name);
    Ok(PluginProvider::new(
        manifest.clone(),
        prefix,
        plugin,
        plugins.max_concurrent_calls,
        timeout,
        trusted,
    )
    .with_search_timeout(section.search_timeout.map(Seconds::get)))
}

/// Fill in each library's SHA-256 and record the loaded ones in the state database. Reads
/// every file whole, so callers run it off the request path.
pub fn record_digests(state: &State, found: &mut [Found]) {
    for entry in found.iter_mut() {
        let stamp = entry.stamp.or_else(|| store::file_stamp(&entry.path));
        if entry.sha256.is_none() {
            // An unchanged file (same size and modification time) keeps its recorded digest.
            let known = stamp.and_then(|s| state.known_digest(&entry.path, s).ok().flatten());
            entry.sha256 = match known {
                Some(digest) => Some(digest),
                None => match library::digest_file(&entry.path) {
                    Ok(digest) => Some(digest),
                    Err(e) => {
                        tracing::warn!(file = %entry.path.display(), error = %e, "cannot read the library to digest it");
                        None
                    }
                },
            };
        }
        if let (Status::Loaded, Some(manifest), Some(sha256)) =
            (&entry.status, &entry.manifest, &entry.sha256)
        {
            state.record_plugin(
                &manifest.name,
                &entry.path,
                sha256,
                (&manifest.version, &manifest.api_version),
                stamp,
            );
        }
    }
}

/// Tell other processes which plugin files this serving switchboard runs (`plugins list` and
/// `doctor` say when a newer file waits for it to restart).
pub fn publish_loaded(state_dir: &Path, found: &[Found]) {
    let plugins = found
        .iter()
        .filter(|f| f.status == Status::Loaded)
        .filter_map(|f| {
            Some(store::LivePlugin {
                name: f.manifest.as_ref()?.name.clone(),
                version: f.manifest.as_ref()?.version.clone(),
                file: f.path.clone(),
                sha256: f.sha256.clone()?,
            })
        })
        .collect();
    store::Store::new(state_dir).publish(plugins);
}

/// For one library as found now, the serving switchboards that run an older file of it: one
/// line each, ending "restart to use <version>".
pub fn awaiting_restart(state_dir: &Path, found: &Found) -> Vec<String> {
    let (Some(manifest), Some(sha256)) = (&found.manifest, &found.sha256) else {
        return Vec::new();
    };
    let mut lines: Vec<String> = store::Store::new(state_dir)
        .live_reports()
        .into_iter()
        .flat_map(|report| {
            report
                .plugins
                .into_iter()
                .filter(|p| p.file == found.path && p.name == manifest.name && &p.sha256 != sha256)
                .map(move |p| {
                    format!(
                        "switchboard pid {} runs {} {} from an older file (sha256 {}); restart to use {} (sha256 {})",
                        report.pid,
                        p.name,
                        p.version,
                        short(&p.sha256),
                        manifest.version,
                        short(sha256)
                    )
                })
        })
        .collect();
    if let Some(newer) = &found.newer {
        lines.push(format!(
            "a newer file is waiting (sha256 {}); restart to use {}",
            short(&newer.sha256),
            newer.version
        ));
    }
    lines
}

fn short(sha256: &str) -> &str {
    &sha256[..12.min(sha256.len())]
}

/// Check `config` against the plugin's schema; the error starts with the JSON path within the
/// plugin's section (e.g. `.roots[0]: 5 is not of type "string"`).
pub fn validate_config(schema: &Value, config: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| format!(": the plugin declares an invalid configuration schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(config)
        .take(3)
        .map(|e| {
            format!(
                "{}: {e}",
                json_pointer_to_dotted(&e.instance_path().to_string())
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// `/roots/0` → `.roots[0]`.
fn json_pointer_to_dotted(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            out.push('.');
            out.push_str(&part.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_errors_name_the_path() {
        let schema = json!({"type": "object", "properties": {"roots": {"type": "array", "items": {"type": "string"}}}, "additionalProperties": false});
        assert!(validate_config(&schema, &json!({"roots": ["a"]})).is_ok());
        let err = validate_config(&schema, &json!({"roots": ["a", 5]})).unwrap_err();
        assert!(err.starts_with(".roots[1]: "), "{err}");
        let err = validate_config(&schema, &json!({"rots": []})).unwrap_err();
        assert!(err.contains("rots"), "{err}");
    }
}
