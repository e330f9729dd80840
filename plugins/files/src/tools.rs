//! The MCP tools: `search`, `read`, `list` and `roots`, their arguments and answers as types
//! (the schemas are derived from them), and the table that adds the write tools of
//! [`crate::write`] when the configuration offers them.
//!
//! These four only read. Failures a model can act on (a path outside the roots, a binary file, a
//! folder given to `read`) come back as tool errors with a sentence saying what to do; only an
//! unknown tool name or a cancelled request is an error of the call itself. Each answer has a
//! readable text rendering, and `search`, `list` and `roots` also return structured content.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::model::{Content, ToolAnnotations};
use switchboard_plugin_api::{Call, ErrorKind, PluginError, Tool, ToolResult, Tools};

use crate::content;
use crate::listing::{self, ListOutput};
use crate::paths::file_uri;
use crate::write;
use crate::{Files, MAX_HITS};

/// Hits the `search` tool returns when the request does not say.
const DEFAULT_LIMIT: u64 = 10;

/// `search`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Words to look for, or a file name or glob.
    #[schemars(length(min = 1))]
    query: String,
    /// How many results at most.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = MAX_HITS))]
    limit: u64,
    /// Only search in this folder (an absolute path or one starting with ~).
    path_prefix: Option<String>,
}

fn default_limit() -> u64 {
    DEFAULT_LIMIT
}

/// `search`'s structured answer.
#[derive(Serialize, JsonSchema)]
pub struct SearchOutput {
    /// The best matches first.
    results: Vec<SearchResult>,
}

/// One file `search` found.
#[derive(Serialize, JsonSchema)]
pub struct SearchResult {
    /// Its absolute path.
    path: String,
    /// Its name.
    name: String,
    /// Its `file://` URL.
    url: String,
    /// Its size in bytes.
    size: u64,
    /// The text around the match, the match marked «like this».
    snippet: Option<String>,
    /// How well it matches; higher is better.
    score: f64,
}

/// `read`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// Absolute path of the file (or starting with ~), as search or list return it.
    path: String,
    /// Byte offset to start at.
    #[serde(default)]
    offset: u64,
    /// Bytes to read at most (capped at max_file_size).
    #[schemars(range(min = 1))]
    length: Option<u64>,
}

/// `list`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Absolute path of the folder (or starting with ~); the roots tool names the top folders.
    path: String,
}

/// A tool that takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `roots`' structured answer.
#[derive(Serialize, JsonSchema)]
pub struct RootsOutput {
    /// The shared folders, as configured.
    roots: Vec<SharedRoot>,
}

/// One shared folder.
#[derive(Serialize, JsonSchema)]
pub struct SharedRoot {
    /// As written in the configuration.
    configured: String,
    /// Where that is, symlinks resolved.
    path: String,
    /// Whether it exists now.
    exists: bool,
}

/// The tools offered: the four that read, and the write tools when `writable`.
pub fn tools(writable: bool) -> Tools<Files> {
    let tools = Tools::new()
        .add(
            Tool::new(
                "search",
                "Full-text search over the names and contents of the text files in the shared \
                 folders. All words must match (the last one also as a prefix); a single word \
                 such as `Cargo.toml`, `src/main.rs` or `*.md` also matches file names, and those \
                 hits come first. Returns the best matches with a snippet (the match marked \
                 «like this»); pass a hit's path to the read tool to see the file. Binary files \
                 match by name only.",
            )
            .title("Search local files")
            .output::<SearchOutput>()
            .annotations(ToolAnnotations::read_only()),
            told(search),
        )
        .add(
            Tool::new(
                "read",
                "Read a text file in the shared folders. Returns up to `length` bytes of text \
                 starting at byte `offset` (both default to the whole file up to the connector's \
                 size cap); a note at the end says how to continue when there is more. Binary \
                 files cannot be read.",
            )
            .title("Read a local file")
            .annotations(ToolAnnotations::read_only()),
            told(read),
        )
        .add(
            Tool::new(
                "list",
                "List a folder in the shared folders: its visible files (with sizes) and \
                 subfolders. Hidden and excluded entries are left out.",
            )
            .title("List a local folder")
            .output::<ListOutput>()
            .annotations(ToolAnnotations::read_only()),
            told(list),
        )
        .add(
            Tool::new(
                "roots",
                "The folders this connector shares, and whether each exists. Start here to \
                 browse with the list tool.",
            )
            .title("Shared folders")
            .output::<RootsOutput>()
            .annotations(ToolAnnotations::read_only()),
            told(|files, _: NoArgs, _| Ok(roots(files))),
        );
    if writable { write::add(tools) } else { tools }
}

/// A handler whose failures the model can act on come back as tool errors, with the sentence
/// that says what to do; a cancelled call stays an error of the call.
pub(crate) fn told<A>(
    run: impl Fn(&Files, A, &Call) -> Result<ToolResult, PluginError> + Send + Sync + 'static,
) -> impl Fn(&Files, A, &Call) -> Result<ToolResult, PluginError> + Send + Sync + 'static {
    move |files, args, call| match run(files, args, call) {
        Ok(result) => Ok(result),
        Err(e) if e.kind == ErrorKind::CANCELLED => Err(e),
        Err(e) => Ok(ToolResult::error(e.message.to_string())),
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::new(ErrorKind::INVALID_INPUT, message)
}

fn search(files: &Files, args: SearchArgs, call: &Call) -> Result<ToolResult, PluginError> {
    let query = args.query.as_str();
    let limit = args.limit.clamp(1, MAX_HITS as u64);
    let prefix = match args.path_prefix.as_deref() {
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
        results.push(SearchResult {
            path: hit.path.clone(),
            name: hit.name.clone(),
            url,
            size: hit.size,
            snippet: hit.snippet.clone(),
            score: hit.score,
        });
    }
    Ok(ToolResult::typed(text, &SearchOutput { results }))
}

fn read(files: &Files, args: ReadArgs, _: &Call) -> Result<ToolResult, PluginError> {
    let path = args.path.as_str();
    let cap = files.config().max_file_size;
    let offset = args.offset;
    let length = args.length.unwrap_or(cap).clamp(1, cap);
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

fn list(files: &Files, args: ListArgs, _: &Call) -> Result<ToolResult, PluginError> {
    let path = args.path.as_str();
    let resolved = files.resolve(path)?;
    if !resolved.is_dir {
        return Err(invalid(format!(
            "{path} is a file; use the read tool to see its text"
        )));
    }
    let listing = listing::list(files.roots(), &resolved)?;
    Ok(ToolResult::typed(listing.render(), &listing.output()))
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
        roots.push(SharedRoot {
            configured: root.configured.clone(),
            path: path.display().to_string(),
            exists,
        });
    }
    if roots.is_empty() {
        text = "No folders are configured.".to_string();
    }
    ToolResult::typed(text, &RootsOutput { roots })
}
