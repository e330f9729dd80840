//! The MCP tools: `search`, `read`, `list` and `roots`, their schemas and their answers, and
//! the dispatch to the write tools of [`crate::write`] when the configuration offers them.
//!
//! These four only read. Failures a model can act on (a path outside the roots, a binary file, a
//! folder given to `read`) come back as tool errors with a sentence saying what to do; only an
//! unknown tool name or a cancelled request is an error of the call itself. Each answer has a
//! readable text rendering, and `search`, `list` and `roots` also return structured content.

use serde_json::{Value, json};
use switchboard_plugin_api::model::{Content, JsonObject, ToolAnnotations, ToolDef};
use switchboard_plugin_api::{Call, ErrorKind, PluginError, ToolResult};

use crate::content;
use crate::listing;
use crate::paths::file_uri;
use crate::write;
use crate::{Files, MAX_HITS};

/// Hits the `search` tool returns when the request does not say.
const DEFAULT_LIMIT: u64 = 10;

/// The tool definitions.
pub fn definitions() -> Vec<ToolDef> {
    vec![
        ToolDef::new(
            "search",
            "Full-text search over the names and contents of the text files in the shared \
             folders. All words must match (the last one also as a prefix); a single word such \
             as `Cargo.toml`, `src/main.rs` or `*.md` also matches file names, and those hits \
             come first. Returns the best matches with a snippet (the match marked «like this»); \
             pass a hit's path to the read tool to see the file. Binary files match by name only.",
            json!({
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Words to look for, or a file name or glob."
                    },
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_HITS,
                        "default": DEFAULT_LIMIT,
                        "description": "How many results at most."
                    },
                    "path_prefix": {
                        "type": "string",
                        "description": "Only search in this folder (an absolute path or one \
                            starting with ~)."
                    }
                },
                "required": ["query"],
                "additionalProperties": false
            }),
        )
        .title("Search local files")
        .output_schema(json!({
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string"},
                            "name": {"type": "string"},
                            "url": {"type": "string"},
                            "size": {"type": "integer"},
                            "snippet": {"type": ["string", "null"]},
                            "score": {"type": "number"}
                        },
                        "required": ["path", "name", "url", "score"]
                    }
                }
            },
            "required": ["results"]
        }))
        .annotations(ToolAnnotations::read_only()),
        ToolDef::new(
            "read",
            "Read a text file in the shared folders. Returns up to `length` bytes of text \
             starting at byte `offset` (both default to the whole file up to the connector's \
             size cap); a note at the end says how to continue when there is more. Binary files \
             cannot be read.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Absolute path of the file (or starting with ~), as \
                            search or list return it."
                    },
                    "offset": {
                        "type": "integer",
                        "minimum": 0,
                        "default": 0,
                        "description": "Byte offset to start at."
                    },
                    "length": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Bytes to read at most (capped at max_file_size)."
                    }
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        )
        .title("Read a local file")
        .annotations(ToolAnnotations::read_only()),
        ToolDef::new(
            "list",
            "List a folder in the shared folders: its visible files (with sizes) and \
             subfolders. Hidden and excluded entries are left out.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Absolute path of the folder (or starting with ~); the \
                            roots tool names the top folders."
                    }
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        )
        .title("List a local folder")
        .output_schema(json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "kind": {"type": "string", "enum": ["file", "dir"]},
                            "size": {"type": "integer"},
                            "link": {"type": "boolean"}
                        },
                        "required": ["name", "kind"]
                    }
                },
                "total": {"type": "integer"},
                "truncated": {"type": "boolean"}
            },
            "required": ["path", "entries", "total", "truncated"]
        }))
        .annotations(ToolAnnotations::read_only()),
        ToolDef::new(
            "roots",
            "The folders this connector shares, and whether each exists. Start here to browse \
             with the list tool.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        )
        .title("Shared folders")
        .output_schema(json!({
            "type": "object",
            "properties": {
                "roots": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "configured": {"type": "string"},
                            "path": {"type": "string"},
                            "exists": {"type": "boolean"}
                        },
                        "required": ["configured", "path", "exists"]
                    }
                }
            },
            "required": ["roots"]
        }))
        .annotations(ToolAnnotations::read_only()),
    ]
}

/// Run the tool `name`.
pub fn call(
    files: &Files,
    name: &str,
    args: &JsonObject,
    call: &Call,
) -> Result<ToolResult, PluginError> {
    let outcome = match name {
        "search" => search(files, args, call),
        "read" => read(files, args),
        "list" => list(files, args),
        "roots" => Ok(roots(files)),
        "write" | "move" | "delete" | "mkdir" if files.config().writable => {
            write::call(files, name, args)
        }
        _ => {
            return Err(PluginError::new(
                ErrorKind::NOT_FOUND,
                format!("no tool named {name}"),
            ));
        }
    };
    match outcome {
        Ok(result) => Ok(result),
        Err(e) if e.kind == ErrorKind::CANCELLED => Err(e),
        Err(e) => Ok(ToolResult::error(e.message.to_string())),
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::new(ErrorKind::INVALID_INPUT, message)
}

pub(crate) fn string_arg<'a>(
    args: &'a JsonObject,
    name: &str,
) -> Result<Option<&'a str>, PluginError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("`{name}` must be a string"))),
    }
}

pub(crate) fn required_string<'a>(
    args: &'a JsonObject,
    name: &str,
) -> Result<&'a str, PluginError> {
    string_arg(args, name)?.ok_or_else(|| invalid(format!("`{name}` is required")))
}

pub(crate) fn integer_arg(args: &JsonObject, name: &str) -> Result<Option<u64>, PluginError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(format!("`{name}` must be a non-negative integer"))),
    }
}

pub(crate) fn bool_arg(args: &JsonObject, name: &str, default: bool) -> Result<bool, PluginError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(format!("`{name}` must be true or false"))),
    }
}

pub(crate) fn structured(text: String, value: Value) -> ToolResult {
    ToolResult {
        content: vec![Content::text(text)],
        structured_content: Some(value),
        is_error: false,
    }
}

fn search(files: &Files, args: &JsonObject, call: &Call) -> Result<ToolResult, PluginError> {
    let query = required_string(args, "query")?;
    let limit = integer_arg(args, "limit")?
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_HITS as u64);
    let prefix = match string_arg(args, "path_prefix")? {
        Some(p) if !p.trim().is_empty() => {
            let expanded = files.expand(p.trim());
            if !expanded.is_absolute() {
                return Err(invalid(format!(
                    "path_prefix {p} is not an absolute path (or one starting with ~)"
                )));
            }
            // The index holds canonical paths; a prefix through a symlink must match them.
            let canonical = std::fs::canonicalize(&expanded).unwrap_or(expanded);
            Some(canonical.display().to_string())
        }
        _ => None,
    };
    let hits = files.search_files(
        query,
        usize::try_from(limit).unwrap_or(MAX_HITS),
        prefix.as_deref(),
        call,
    )?;

    let mut text = match hits.len() {
        0 => format!("No files match {query:?}."),
        1 => format!("1 file matches {query:?}:\n"),
        n => format!("{n} files match {query:?}:\n"),
    };
    let mut results = Vec::with_capacity(hits.len());
    for (i, hit) in hits.iter().enumerate() {
        let url = file_uri(std::path::Path::new(&hit.path));
        text.push_str(&format!("\n{}. {} ({} bytes)\n", i + 1, hit.path, hit.size));
        if let Some(snippet) = &hit.snippet {
            text.push_str(&format!("   {snippet}\n"));
        }
        results.push(json!({
            "path": hit.path,
            "name": hit.name,
            "url": url,
            "size": hit.size,
            "snippet": hit.snippet,
            "score": hit.score,
        }));
    }
    Ok(structured(text, json!({ "results": results })))
}

fn read(files: &Files, args: &JsonObject) -> Result<ToolResult, PluginError> {
    let path = required_string(args, "path")?;
    let cap = files.config().max_file_size;
    let offset = integer_arg(args, "offset")?.unwrap_or(0);
    let length = integer_arg(args, "length")?.unwrap_or(cap).clamp(1, cap);
    let resolved = files.resolve(path)?;
    if resolved.is_dir {
        return Err(invalid(format!(
            "{path} is a folder; use the list tool to see what it holds"
        )));
    }
    let shown = resolved.path.display().to_string();
    let file = files.roots().open_file(&resolved)?;
    let window = content::read_window(file, offset, length)
        .map_err(|e| PluginError::new(ErrorKind::FAILED, format!("cannot read {shown}: {e}")))?
        .ok_or_else(|| invalid(format!("{shown} is a binary file; only text can be read")))?;

    let mut content = vec![Content::text(window.text.clone())];
    if offset >= window.size && window.size > 0 {
        content.push(Content::text(format!(
            "[offset {offset} is past the end of {shown}, which has {} bytes]",
            window.size
        )));
    } else if window.start > 0 || window.end < window.size {
        let more = if window.end < window.size {
            format!("; call read with offset={} to continue", window.end)
        } else {
            String::new()
        };
        content.push(Content::text(format!(
            "[bytes {}..{} of {} in {shown}{more}]",
            window.start, window.end, window.size
        )));
    }
    Ok(ToolResult {
        content,
        structured_content: None,
        is_error: false,
    })
}

fn list(files: &Files, args: &JsonObject) -> Result<ToolResult, PluginError> {
    let path = required_string(args, "path")?;
    let resolved = files.resolve(path)?;
    if !resolved.is_dir {
        return Err(invalid(format!(
            "{path} is a file; use the read tool to see its text"
        )));
    }
    let listing = listing::list(files.roots(), &resolved)?;
    Ok(structured(listing.render(), listing.to_json()))
}

fn roots(files: &Files) -> ToolResult {
    let mut text = String::from("Shared folders:\n");
    let mut roots = Vec::new();
    for root in files.roots().configured() {
        let path = root.canonical.as_ref().unwrap_or(&root.expanded);
        let exists = root.canonical.as_ref().is_some_and(|p| p.is_dir());
        let note = match (&root.canonical, exists) {
            (Some(_), true) => "",
            (Some(_), false) => " (no longer exists)",
            (None, _) => " (does not exist; not shared)",
        };
        let shown = path.display().to_string();
        if shown == root.configured {
            text.push_str(&format!("- {shown}{note}\n"));
        } else {
            text.push_str(&format!("- {} = {shown}{note}\n", root.configured));
        }
        roots.push(json!({
            "configured": root.configured,
            "path": path.display().to_string(),
            "exists": exists,
        }));
    }
    if roots.is_empty() {
        text = "No folders are configured.".to_string();
    }
    structured(text, json!({ "roots": roots }))
}
