//! The write tools: `write`, `move`, `delete` and `mkdir`, their schemas and their answers.
//!
//! Offered only with `writable: true` (the default). Every path goes through [`crate::target`],
//! so a change can only happen where a read could: under a root, with no `..`, no symlink
//! leading out, nothing hidden by the include/exclude globs; the plugin's own data folder is
//! never touched, nor is a root itself (or a folder holding one) deleted or moved. Nothing is
//! replaced unless the call says `overwrite: true`, a folder is only deleted with
//! `recursive: true`, and a recursive delete is refused when the folder holds anything this
//! connector cannot see (hidden or excluded entries), so it only destroys what it shows.
//!
//! Each change is made on a name inside a folder opened beneath the root without following
//! any symlink ([`crate::beneath`]), so a folder swapped for a link after the checks makes the
//! change fail rather than land outside. Files are written atomically ([`crate::atomic`]). After each change the search index follows
//! it ([`crate::indexer::Indexer::follow`]): a search right after a write finds the new text,
//! and stops finding what was deleted or moved away.
//!
//! The annotations tell the host's approval policy what it is dealing with: none of these
//! tools is read-only, `write`, `move` and `delete` may destroy data, `mkdir` does not, and
//! none reaches outside this machine.

use std::io;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::model::ToolAnnotations;
use switchboard_plugin_api::{Call, ErrorKind, PluginError, Tool, ToolResult, Tools};

use crate::Files;
use crate::atomic;
use crate::beneath::{self, Kind};
use crate::indexer::Change;
use crate::paths::{PathError, Resolved};
use crate::target::{self, Found};
use crate::tools::{invalid, told};

fn annotations(title: &str, destructive: bool, idempotent: bool) -> ToolAnnotations {
    ToolAnnotations {
        title: Some(title.to_string()),
        read_only_hint: Some(false),
        destructive_hint: Some(destructive),
        idempotent_hint: Some(idempotent),
        open_world_hint: Some(false),
    }
}

fn yes() -> bool {
    true
}

/// `write`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    /// Absolute path (or starting with ~) of the file, under one of the shared folders (see
    /// the roots tool).
    path: String,
    /// The whole new contents of the file.
    content: String,
    /// Create missing parent folders.
    #[serde(default)]
    create_dirs: bool,
    /// Replace the file if it exists.
    #[serde(default)]
    overwrite: bool,
}

/// `write`'s structured answer.
#[derive(Serialize, JsonSchema)]
pub struct Written {
    /// The file written.
    path: String,
    /// How many bytes it holds now.
    bytes: usize,
    /// Whether it is new.
    created: bool,
}

/// `move`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveArgs {
    /// Absolute path (or starting with ~) of the file or folder to move, under one of the
    /// shared folders (see the roots tool).
    from: String,
    /// Absolute path (or starting with ~) of its new location, under one of the shared
    /// folders (see the roots tool).
    to: String,
    /// Replace a file already at `to`.
    #[serde(default)]
    overwrite: bool,
}

/// `move`'s structured answer.
#[derive(Serialize, JsonSchema)]
pub struct Moved {
    /// Where it was.
    from: String,
    /// Where it is now.
    to: String,
    /// Whether a file at `to` was replaced.
    replaced: bool,
}

/// `delete`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// Absolute path (or starting with ~) of the file or folder, under one of the shared
    /// folders (see the roots tool).
    path: String,
    /// Required to delete a folder (and all it holds).
    #[serde(default)]
    recursive: bool,
}

/// What `delete` removed.
#[derive(Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Deleted {
    /// A file.
    File,
    /// A folder and what it held.
    Dir,
    /// A symbolic link (never what it pointed to).
    Link,
}

/// `delete`'s structured answer.
#[derive(Serialize, JsonSchema)]
pub struct Removed {
    /// What was deleted.
    path: String,
    /// What it was.
    kind: Deleted,
    /// How many entries went with it (1 for a file or link).
    entries: usize,
}

/// `mkdir`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MkdirArgs {
    /// Absolute path (or starting with ~) of the folder, under one of the shared folders (see
    /// the roots tool).
    path: String,
    /// Create missing parent folders too.
    #[serde(default = "yes")]
    parents: bool,
}

/// `mkdir`'s structured answer.
#[derive(Serialize, JsonSchema)]
pub struct MadeFolder {
    /// The folder.
    path: String,
    /// Whether it is new (it already existed otherwise).
    created: bool,
}

/// `tools` with the write tools added.
pub fn add(tools: Tools<Files>) -> Tools<Files> {
    tools
        .add(
            Tool::new(
                "write",
                "Write a UTF-8 text file in the shared folders, atomically (readers see the old \
                 or the new contents, never half). Refuses to replace an existing file unless \
                 `overwrite` is true, and to create missing folders unless `create_dirs` is \
                 true. Hidden and excluded paths cannot be written.",
            )
            .title("Write a local file")
            .output::<Written>()
            .annotations(annotations("Write a local file", true, true)),
            told(write),
        )
        .add(
            Tool::new(
                "move",
                "Move or rename a file or folder within the shared folders. `to` is the full \
                 new path (not a folder to move into); its folder must exist. An existing file \
                 at `to` is replaced only with `overwrite` true; an existing folder never is. A \
                 shared folder itself cannot be moved.",
            )
            .title("Move a local file")
            .output::<Moved>()
            .annotations(annotations("Move a local file", true, false)),
            told(move_),
        )
        .add(
            Tool::new(
                "delete",
                "Delete a file, or a folder with everything in it when `recursive` is true. A \
                 symbolic link is removed itself, never what it points to. A shared folder \
                 itself cannot be deleted, nor a folder holding hidden or excluded entries.",
            )
            .title("Delete a local file")
            .output::<Removed>()
            .annotations(annotations("Delete a local file", true, true)),
            told(delete),
        )
        .add(
            Tool::new(
                "mkdir",
                "Create a folder in the shared folders (with its missing parents unless \
                 `parents` is false). A folder that already exists is not an error.",
            )
            .title("Create a local folder")
            .output::<MadeFolder>()
            .annotations(annotations("Create a local folder", false, true)),
            told(mkdir),
        )
}

fn failed(what: &str, path: &Path, error: io::Error) -> PluginError {
    if beneath::is_symlink_refusal(&error) {
        return PathError::Symlink(path.display().to_string()).into();
    }
    PluginError::new(
        ErrorKind::FAILED,
        format!("cannot {what} {}: {error}", path.display()),
    )
}

fn locate(files: &Files, requested: &str, new_is_dir: bool) -> Result<Found, PluginError> {
    let found = target::locate(files.roots(), &files.expand(requested), new_is_dir)?;
    let data = files.data_dir();
    let mut touched = vec![found.path()];
    if let Found::Existing { resolved, .. } = &found {
        touched.push(&resolved.path);
    }
    for path in touched {
        if path.starts_with(data) || data.starts_with(path) {
            return Err(invalid(format!(
                "{} holds switchboard's own data for this connector and cannot be changed",
                path.display()
            )));
        }
    }
    Ok(found)
}

/// Refuse to delete or move a root, or a folder that holds one.
fn protect_roots(files: &Files, entry: &Path) -> Result<(), PluginError> {
    if files.roots().is_root(entry) {
        return Err(invalid(format!(
            "{} is a shared folder itself; it cannot be deleted or moved",
            entry.display()
        )));
    }
    if let Some(root) = files.roots().root_within(entry) {
        return Err(invalid(format!(
            "{} holds the shared folder {}; it cannot be deleted or moved",
            entry.display(),
            root.path.display()
        )));
    }
    Ok(())
}

fn write(files: &Files, args: WriteArgs, _: &Call) -> Result<ToolResult, PluginError> {
    let path = args.path.as_str();
    let content = args.content.as_str();
    let create_dirs = args.create_dirs;
    let overwrite = args.overwrite;
    let (dest, root, created) = match locate(files, path, false)? {
        Found::Existing { resolved, .. } if resolved.is_dir => {
            return Err(invalid(format!("{path} is a folder, not a file")));
        }
        Found::Existing { .. } if !overwrite => {
            return Err(invalid(format!(
                "{path} already exists; pass overwrite: true to replace it"
            )));
        }
        Found::Existing { resolved, .. } => (resolved.path, resolved.root, false),
        Found::New {
            path: dest,
            root,
            parent_exists,
        } => {
            if !parent_exists {
                let folder = dest.parent().unwrap_or(&dest);
                if !create_dirs {
                    return Err(invalid(format!(
                        "the folder {} does not exist; pass create_dirs: true to create it",
                        folder.display()
                    )));
                }
                files.roots().create_folders(root, folder)?;
            }
            (dest, root, true)
        }
    };
    let (folder, name) = files.roots().parent_folder(root, &dest)?;
    atomic::write(&folder, &name, content.as_bytes(), overwrite).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            invalid(format!(
                "{} appeared meanwhile; pass overwrite: true to replace it",
                dest.display()
            ))
        } else {
            failed("write", &dest, e)
        }
    })?;
    files.follow(Change::Written(&dest));
    let bytes = content.len();
    let verb = if created { "Created" } else { "Replaced" };
    Ok(ToolResult::typed(
        format!("{verb} {} ({bytes} bytes).", dest.display()),
        &Written {
            path: dest.display().to_string(),
            bytes,
            created,
        },
    ))
}

fn move_(files: &Files, args: MoveArgs, _: &Call) -> Result<ToolResult, PluginError> {
    let from_arg = args.from.as_str();
    let to_arg = args.to.as_str();
    let overwrite = args.overwrite;
    let Found::Existing {
        entry: from,
        entry_root: from_root,
        resolved: source,
        link,
    } = locate(files, from_arg, false)?
    else {
        return Err(PluginError::new(
            ErrorKind::NOT_FOUND,
            format!("{from_arg} does not exist"),
        ));
    };
    protect_roots(files, &from)?;
    let moving_dir = source.is_dir && !link;
    let (dest, dest_root, replaced) = match locate(files, to_arg, moving_dir)? {
        Found::Existing { entry, .. } if entry == from => {
            return Err(invalid(format!("{from_arg} and {to_arg} are the same")));
        }
        Found::Existing { resolved, .. } if resolved.is_dir => {
            return Err(invalid(format!(
                "a folder is already at {to_arg}; give the full new path, or delete the folder \
                 first"
            )));
        }
        Found::Existing { .. } if moving_dir => {
            return Err(invalid(format!(
                "a file is already at {to_arg}; a folder cannot replace it"
            )));
        }
        Found::Existing { .. } if !overwrite => {
            return Err(invalid(format!(
                "{to_arg} already exists; pass overwrite: true to replace it"
            )));
        }
        Found::Existing {
            entry, entry_root, ..
        } => (entry, entry_root, true),
        Found::New {
            parent_exists: false,
            path,
            ..
        } => {
            let folder = path.parent().unwrap_or(&path);
            return Err(invalid(format!(
                "the folder {} does not exist; create it with mkdir first",
                folder.display()
            )));
        }
        Found::New { path, root, .. } => (path, root, false),
    };
    if moving_dir && dest.starts_with(&from) {
        return Err(invalid(format!(
            "{from_arg} cannot be moved into itself ({to_arg})"
        )));
    }
    let (from_folder, from_name) = files.roots().parent_folder(from_root, &from)?;
    let (to_folder, to_name) = files.roots().parent_folder(dest_root, &dest)?;
    match from_folder.rename(&from_name, &to_folder, &to_name) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices && !moving_dir && !link => {
            atomic::copy_across(&from_folder, &from_name, &to_folder, &to_name, replaced)
                .map_err(|e| failed("move", &from, e))?;
        }
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            return Err(invalid(format!(
                "{from_arg} and {to_arg} are on different file systems; only files can be \
                 moved between them"
            )));
        }
        Err(e) => return Err(failed("move", &from, e)),
    }
    files.follow(Change::Moved {
        from: &from,
        to: &dest,
    });
    let note = if replaced { " (replacing it)" } else { "" };
    Ok(ToolResult::typed(
        format!("Moved {} to {}{note}.", from.display(), dest.display()),
        &Moved {
            from: from.display().to_string(),
            to: dest.display().to_string(),
            replaced,
        },
    ))
}

/// Count what a recursive delete of `folder` would remove, refusing when any of it is hidden
/// from clients by the include/exclude globs. Each folder is opened beneath the root, no
/// symlink followed (a link inside is an entry like a file).
fn visible_tree(files: &Files, folder: &Resolved) -> Result<usize, PluginError> {
    let root = files
        .roots()
        .roots()
        .get(folder.root)
        .map(|r| r.path.clone())
        .unwrap_or_default();
    let mut count = 0;
    let mut pending = vec![folder.path.clone()];
    while let Some(path) = pending.pop() {
        let opened = files.roots().open_folder(&Resolved {
            path: path.clone(),
            root: folder.root,
            is_dir: true,
        })?;
        let children = opened.entries().map_err(|e| {
            PluginError::new(
                ErrorKind::FAILED,
                format!("cannot look inside {}: {e}", path.display()),
            )
        })?;
        for child in children {
            let child_path = path.join(&child.name);
            let rel = child_path.strip_prefix(&root).unwrap_or(&child_path);
            let is_dir = child.kind == Kind::Dir;
            if !files.roots().filter().is_visible(rel, is_dir) {
                return Err(invalid(format!(
                    "{} holds {}, which this connector hides (include/exclude rules); delete \
                     refused so nothing unseen is destroyed",
                    folder.path.display(),
                    child_path.display()
                )));
            }
            count += 1;
            if is_dir {
                pending.push(child_path);
            }
        }
    }
    Ok(count)
}

fn delete(files: &Files, args: DeleteArgs, _: &Call) -> Result<ToolResult, PluginError> {
    let path = args.path.as_str();
    let recursive = args.recursive;
    let Found::Existing {
        entry,
        entry_root,
        resolved,
        link,
    } = locate(files, path, false)?
    else {
        return Err(PluginError::new(
            ErrorKind::NOT_FOUND,
            format!("{path} does not exist"),
        ));
    };
    protect_roots(files, &entry)?;
    let (folder, name) = files.roots().parent_folder(entry_root, &entry)?;
    let (kind, entries) = if link {
        folder
            .remove_file(&name)
            .map_err(|e| failed("delete", &entry, e))?;
        (Deleted::Link, 1)
    } else if resolved.is_dir {
        if !recursive {
            return Err(invalid(format!(
                "{path} is a folder; pass recursive: true to delete it with everything in it"
            )));
        }
        let inside = visible_tree(files, &resolved)?;
        folder
            .remove_tree(&name)
            .map_err(|e| failed("delete", &entry, e))?;
        (Deleted::Dir, inside + 1)
    } else {
        folder
            .remove_file(&name)
            .map_err(|e| failed("delete", &entry, e))?;
        (Deleted::File, 1)
    };
    files.follow(Change::Removed(&entry));
    let what = match kind {
        Deleted::Dir => format!("the folder {} ({entries} entries)", entry.display()),
        Deleted::Link => format!("the link {}", entry.display()),
        Deleted::File => entry.display().to_string(),
    };
    Ok(ToolResult::typed(
        format!("Deleted {what}."),
        &Removed {
            path: entry.display().to_string(),
            kind,
            entries,
        },
    ))
}

fn mkdir(files: &Files, args: MkdirArgs, _: &Call) -> Result<ToolResult, PluginError> {
    let path = args.path.as_str();
    let parents = args.parents;
    let (dest, created) = match locate(files, path, true)? {
        Found::Existing { resolved, .. } if resolved.is_dir => (resolved.path, false),
        Found::Existing { .. } => {
            return Err(invalid(format!("{path} exists and is a file")));
        }
        Found::New {
            path: dest,
            root,
            parent_exists,
        } => {
            if parent_exists {
                let (folder, name) = files.roots().parent_folder(root, &dest)?;
                folder
                    .create_folder(&name)
                    .map_err(|e| failed("create", &dest, e))?;
            } else if parents {
                files.roots().create_folders(root, &dest)?;
            } else {
                let folder = dest.parent().unwrap_or(&dest);
                return Err(invalid(format!(
                    "the folder {} does not exist; pass parents: true to create it too",
                    folder.display()
                )));
            }
            (dest, true)
        }
    };
    let text = if created {
        format!("Created the folder {}.", dest.display())
    } else {
        format!("The folder {} already exists.", dest.display())
    };
    Ok(ToolResult::typed(
        text,
        &MadeFolder {
            path: dest.display().to_string(),
            created,
        },
    ))
}
