//! Opening one plugin library: dlopen, abi_stable's version and layout checks, the fallback
//! for plugins built against an older minor version, and a one-line reason when refused.
//!
//! [`open`] is only ever given a private copy ([`super::store`]) that a probe process has
//! opened before ([`super::probe`]); never the person's file, which may change under a mapping.
//!
//! abi_stable accepts libraries built against the same or a *newer* minor version of the
//! interface, but refuses older ones. We accept those too: when the forward check fails on
//! layout, the reverse check (the plugin's types are a prefix of ours) proves every field and
//! method the plugin has matches ours, and the ones it lacks are optional by construction.

use std::path::{Path, PathBuf};

use abi_stable::library::{LibraryError, lib_header_from_path};
use switchboard_plugin_api::abi::PluginModRef;
use switchboard_plugin_api::model::Manifest;

/// A library that passed every check, with its manifest.
pub struct Library {
    /// The root module.
    pub module: PluginModRef,
    /// What it says it is.
    pub manifest: Manifest,
}

/// Why a library was refused, in one line for a person.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct Refusal {
    /// The file.
    pub path: PathBuf,
    /// Why, in one line.
    pub reason: String,
}

/// Whether `path` looks like a loadable library on this platform.
pub fn is_library(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
}

/// Open, check and read the manifest of the library at `path`.
pub fn open(path: &Path) -> Result<Library, Refusal> {
    let refuse = |reason: String| Refusal {
        path: path.to_path_buf(),
        reason,
    };
    let module = load_module(path).map_err(|e| {
        // The full text can run to hundreds of lines of type layouts: debug level only.
        tracing::debug!(file = %path.display(), "abi_stable refused the library:\n{e}");
        refuse(summarize(&e))
    })?;
    let manifest_json = (module.manifest())();
    let manifest: Manifest = serde_json::from_str(manifest_json.as_str()).map_err(|e| {
        refuse(format!(
            "the plugin's manifest is not valid ({e}): {}",
            truncate(manifest_json.as_str(), 200)
        ))
    })?;
    if !crate::catalog::naming::is_valid_plugin_name(&manifest.name) {
        return Err(refuse(format!(
            "the plugin's name {:?} is not valid: use lowercase letters, digits, '_' and '-'",
            manifest.name
        )));
    }
    Ok(Library { module, manifest })
}

/// Hex SHA-256 of the file at `path`, read in chunks (libraries run to megabytes; this is
/// kept off the startup path).
pub fn digest_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn load_module(path: &Path) -> Result<PluginModRef, LibraryError> {
    use abi_stable::StableAbi;
    use abi_stable::abi_stability::abi_checking::{
        CheckingGlobals, check_layout_compatibility_with_globals,
    };

    let header = lib_header_from_path(path)?;
    match header.init_root_module::<PluginModRef>() {
        Ok(module) => Ok(module),
        Err(LibraryError::AbiInstability(forward)) => {
            let Some(plugin_layout) = header.layout() else {
                return Err(LibraryError::AbiInstability(forward));
            };
            // A private registry: abi_stable's global one remembers the layouts it checks, and
            // recording this older layout there would make every later, newer plugin fail.
            let private = CheckingGlobals::new();
            match check_layout_compatibility_with_globals(
                plugin_layout,
                <PluginModRef as StableAbi>::LAYOUT,
                &private,
            ) {
                // SAFETY: the reverse check proved that every field and method the plugin has
                // is laid out as the host expects; what the host has beyond it is appended
                // after `last_prefix_field`, which abi_stable accessors treat as absent for
                // this plugin (root-module fields are `Option`, trait methods fall back to
                // their default bodies).
                Ok(()) => unsafe {
                    header.init_root_module_with_unchecked_layout::<PluginModRef>()
                },
                Err(_) => Err(LibraryError::AbiInstability(forward)),
            }
        }
        Err(e) => Err(e),
    }
}

/// One line a person can act on, from abi_stable's (sometimes hundreds of lines long) error.
fn summarize(error: &LibraryError) -> String {
    match error {
        LibraryError::OpenError { err, .. } => {
            format!("not a loadable library: {}", first_line(&err.to_string()))
        }
        LibraryError::GetSymbolError { .. } => {
            "not a switchboard plugin (it exports no abi_stable root module)".to_string()
        }
        LibraryError::InvalidAbiHeader(header) => format!(
            "built with an incompatible abi_stable ({header:?}); rebuild it against switchboard-plugin-api {}",
            switchboard_plugin_api::API_VERSION
        ),
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => format!(
            "built against switchboard-plugin-api {actual_version}, but this switchboard implements {expected_version}; rebuild the plugin against {}.x",
            expected_version.major
        ),
        LibraryError::AbiInstability(_) => format!(
            "its interface types do not match this switchboard's (built against a modified or incompatible switchboard-plugin-api); rebuild it against switchboard-plugin-api {}",
            switchboard_plugin_api::API_VERSION
        ),
        other => first_line(&other.to_string()).to_string(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
