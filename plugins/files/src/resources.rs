//! The MCP resources: every root as a `file://` folder resource, a `file://{+path}` template
//! for anything under a root, reading them, and completing paths for the template.
//!
//! Reading goes through the same confinement rules as the tools: a folder URI yields a text
//! listing, a text file its contents (cut at the size cap with a note, MIME type guessed from
//! the extension), and a binary file an error.

use std::path::{MAIN_SEPARATOR, Path, PathBuf};

use switchboard_plugin_api::model::{
    Completion, CompletionRequest, ResourceContents, ResourceDef, ResourceRead, ResourceTemplateDef,
};
use switchboard_plugin_api::{ErrorKind, PluginError};

use crate::content::{self, Contents};
use crate::listing::{self, Kind};
use crate::paths::{file_uri, path_from_uri};
use crate::{Files, cut_note};

/// The template every file and folder under a root matches.
pub const TEMPLATE: &str = "file://{+path}";

/// Most completions offered at once (MCP's limit).
const MAX_COMPLETIONS: usize = 100;

/// One resource per existing root.
pub fn resources(files: &Files) -> Vec<ResourceDef> {
    files
        .roots()
        .roots()
        .iter()
        .filter(|root| root.path.is_dir())
        .map(|root| ResourceDef {
            uri: file_uri(&root.path),
            name: root.name(),
            title: None,
            description: Some(format!(
                "Shared folder {} (configured as {}). Reading it lists its entries.",
                root.path.display(),
                root.configured
            )),
            mime_type: Some("inode/directory".to_string()),
        })
        .collect()
}

/// The template for files and folders under the roots.
pub fn templates() -> Vec<ResourceTemplateDef> {
    vec![ResourceTemplateDef {
        uri_template: TEMPLATE.to_string(),
        name: "file".to_string(),
        title: Some("Local file or folder".to_string()),
        description: Some(
            "A text file (its contents) or a folder (a listing) under one of the shared \
             folders, by absolute path, e.g. file:///home/me/notes/todo.md."
                .to_string(),
        ),
        mime_type: None,
    }]
}

/// Read the resource at `uri`.
pub fn read(files: &Files, uri: &str) -> Result<ResourceRead, PluginError> {
    let path = path_from_uri(uri).ok_or_else(|| {
        PluginError::new(ErrorKind::NOT_FOUND, format!("{uri} is not a file:// URI"))
    })?;
    let resolved = files.roots().resolve(&path)?;
    let shown = resolved.path.display().to_string();
    let contents = if resolved.is_dir {
        let listing = listing::list(files.roots(), &resolved)?;
        ResourceContents::Text {
            uri: uri.to_string(),
            mime_type: Some("text/plain".to_string()),
            text: listing.render(),
        }
    } else {
        let file = files.roots().open_file(&resolved)?;
        let size = file.metadata().map_or(0, |m| m.len());
        match content::read_capped(file, files.config().max_file_size) {
            Ok(Contents::Text {
                mut text,
                truncated,
            }) => {
                if truncated {
                    text.push_str(&cut_note(text.len(), size));
                }
                ResourceContents::Text {
                    uri: uri.to_string(),
                    mime_type: Some(content::mime_type(&resolved.path).to_string()),
                    text,
                }
            }
            Ok(Contents::Binary) => {
                return Err(PluginError::new(
                    ErrorKind::INVALID_INPUT,
                    format!("{shown} is a binary file; only text files can be read"),
                ));
            }
            Err(e) => {
                return Err(PluginError::new(
                    ErrorKind::FAILED,
                    format!("cannot read {shown}: {e}"),
                ));
            }
        }
    };
    Ok(ResourceRead {
        contents: vec![contents],
    })
}

/// Suggest paths for the template's `path` argument: the roots when nothing is typed, else
/// the visible entries of the typed folder that start with the typed name.
pub fn complete(files: &Files, request: &CompletionRequest) -> Completion {
    let is_ours = request.reference.get("type").and_then(|t| t.as_str()) == Some("ref/resource")
        && request.reference.get("uri").and_then(|u| u.as_str()) == Some(TEMPLATE)
        && request.argument.name == "path";
    if !is_ours {
        return Completion::default();
    }
    let typed = request.argument.value.as_str();
    let mut values: Vec<String> = if typed.is_empty() {
        files
            .roots()
            .roots()
            .iter()
            .map(|r| r.path.display().to_string())
            .collect()
    } else {
        complete_path(files, typed)
    };
    let total = values.len();
    values.truncate(MAX_COMPLETIONS);
    Completion {
        has_more: Some(total > values.len()),
        total: u32::try_from(total).ok(),
        values,
    }
}

fn complete_path(files: &Files, typed: &str) -> Vec<String> {
    let expanded = files.expand(typed);
    let (folder, stem): (PathBuf, String) = if typed.ends_with(['/', MAIN_SEPARATOR]) {
        (expanded.clone(), String::new())
    } else {
        let stem = expanded
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (
            expanded.parent().map(Path::to_path_buf).unwrap_or_default(),
            stem,
        )
    };
    let Ok(resolved) = files.roots().resolve(&folder) else {
        // Not inside a root yet: offer the roots that start with what was typed.
        return files
            .roots()
            .roots()
            .iter()
            .map(|r| r.path.display().to_string())
            .filter(|p| p.starts_with(&expanded.display().to_string()))
            .collect();
    };
    if !resolved.is_dir {
        return Vec::new();
    }
    let Ok(listing) = listing::list(files.roots(), &resolved) else {
        return Vec::new();
    };
    listing
        .entries
        .iter()
        .filter(|e| e.name.starts_with(&stem))
        .map(|e| {
            let path = folder.join(&e.name).display().to_string();
            match e.kind {
                Kind::Dir => format!("{path}/"),
                Kind::File => path,
            }
        })
        .collect()
}
