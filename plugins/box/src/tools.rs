//! The connector's tools: their argument and answer types (the schemas are derived from
//! them) and their handlers. `search_files`, `read_file` and `list_folder` only read;
//! `upload_file` writes, is offered only when the `writable` setting is on, and carries no
//! read-only hint, so the host's policy asks the person first. The sign-in tools are in
//! [`crate::signin`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::model::ToolAnnotations;
use switchboard_plugin_api::source::{CHECK, SIGN_IN, SIGN_OUT};
use switchboard_plugin_api::{Call, PluginError, Tool, ToolResult, Tools};

use crate::BoxSource;
use crate::api::{check_id, query};
use crate::error::Failure;
use crate::wire::{Item, LISTING_FIELDS, Page};
use crate::{fetch, search, signin, upload};

/// The arguments of `search_files`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFiles {
    /// Words to look for in file names, descriptions and text (Box's search syntax: AND,
    /// OR, NOT, "an exact phrase").
    #[schemars(length(min = 1))]
    pub query: String,
    /// How many files at most (the source's search_limit caps it).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
}

/// A file `search_files` found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FoundFile {
    /// Its id, for read_file.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where a person opens it.
    pub url: String,
    /// The folders above it.
    pub path: Option<String>,
    /// Bytes.
    pub size: Option<u64>,
    /// When it last changed.
    pub modified_at: Option<String>,
    /// Its description.
    pub description: Option<String>,
}

/// What `search_files` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Found {
    /// The files, best first.
    pub files: Vec<FoundFile>,
}

/// The arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFile {
    /// The file's id (digits), as search_files or list_folder give it.
    pub id: String,
}

/// The arguments of `list_folder`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFolder {
    /// The folder's id (digits); 0 is the root, "All Files".
    #[serde(default = "root")]
    pub folder_id: String,
    /// Entries at most (Box allows 1000).
    #[serde(default = "hundred")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: u32,
    /// Entries to skip, to read the next page.
    #[serde(default)]
    pub offset: u64,
}

fn root() -> String {
    "0".to_string()
}
fn hundred() -> u32 {
    100
}

/// One entry of a folder.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Entry {
    /// `file`, `folder` or `web_link`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Bytes.
    pub size: Option<u64>,
    /// When it last changed.
    pub modified_at: Option<String>,
}

/// What `list_folder` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Listing {
    /// The folder listed.
    pub folder_id: String,
    /// Entries in the folder, in all.
    pub total_count: Option<u64>,
    /// This page's entries.
    pub entries: Vec<Entry>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u64>,
}

/// The arguments of `upload_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadFile {
    /// The new file's name (no / or \).
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Its content, as text (UTF-8).
    pub content: String,
    /// The folder to put it in (digits); 0 is the root.
    #[serde(default = "root")]
    pub folder_id: String,
}

/// The connector's tools, `upload_file` only when `writable`.
pub fn table(writable: bool) -> Tools<BoxSource> {
    let read = ToolAnnotations {
        // Reads Box, a remote service.
        open_world_hint: Some(true),
        ..ToolAnnotations::read_only()
    };
    let tools = Tools::new()
        .add(
            Tool::new(
                "search_files",
                "Search the files in Box that the account can see, by name, description and \
                 text; answers each file's id (for read_file), name, folder and link.",
            )
            .title("Search Box files")
            .output::<Found>()
            .annotations(read.clone()),
            search_files,
        )
        .add(
            Tool::new(
                "read_file",
                "Read a Box file by id: the text of a text file (txt, md, csv, json, code...), \
                 else what the file is, with its size, folder, owner and link.",
            )
            .title("Read a Box file")
            .annotations(read.clone()),
            read_file,
        )
        .add(
            Tool::new(
                "list_folder",
                "List a Box folder's folders and files (0 is the root), a page at a time.",
            )
            .title("List a Box folder")
            .output::<Listing>()
            .annotations(read.clone()),
            list_folder,
        );
    let tools = if writable {
        tools.add(
            Tool::new(
                "upload_file",
                "Upload a new text file to a Box folder. Never replaces a file: a name already \
                 in the folder is refused.",
            )
            .title("Upload a file to Box")
            .annotations(ToolAnnotations {
                read_only_hint: Some(false),
                destructive_hint: Some(true),
                idempotent_hint: Some(false),
                open_world_hint: Some(true),
                ..ToolAnnotations::default()
            }),
            upload_file,
        )
    } else {
        tools
    };
    tools
        .add(
            Tool::new(
                SIGN_IN,
                "Sign in to Box: in the browser (flow browser, the default), or check the app's \
                 client credentials (flow client_credentials). The address to open is reported \
                 as progress; the call returns once signed in.",
            )
            .title("Sign in to Box"),
            signin::sign_in,
        )
        .add(
            Tool::new(
                CHECK,
                "Ask Box who is signed in: one cheap call that says whether Box answers.",
            )
            .title("Check the Box connection")
            .annotations(read),
            signin::check,
        )
        .add(
            Tool::new(
                SIGN_OUT,
                "Sign out of Box: revoke and forget the kept sign-in.",
            )
            .title("Sign out of Box")
            .annotations(ToolAnnotations {
                read_only_hint: Some(false),
                destructive_hint: Some(true),
                idempotent_hint: Some(true),
                open_world_hint: Some(true),
                ..ToolAnnotations::default()
            }),
            signin::sign_out,
        )
}

/// A failure the model should read, or the call's own end (cancelled).
pub fn told(failure: Failure) -> Result<ToolResult, PluginError> {
    match failure {
        Failure::Cancelled => Err(failure.into()),
        other => Ok(ToolResult::error(other.to_string())),
    }
}

fn search_files(
    source: &BoxSource,
    args: SearchFiles,
    call: &Call,
) -> Result<ToolResult, PluginError> {
    let session = source.session();
    let api = source.api(&session);
    let limit = args.limit.unwrap_or(source.config.search_limit);
    let items = match search::files(&api, &args.query, limit, call) {
        Ok(items) => items,
        Err(failure) => return told(failure),
    };
    let mut text = format!("{} file(s) in Box:\n", items.len());
    let files: Vec<FoundFile> = items
        .iter()
        .map(|item| {
            let found = found(source, item);
            text.push_str(&format!(
                "- {} (id {}){}\n",
                found.name,
                found.id,
                search::snippet(item).map_or_else(String::new, |s| format!(": {s}"))
            ));
            found
        })
        .collect();
    Ok(ToolResult::typed(text, &Found { files }))
}

fn found(source: &BoxSource, item: &Item) -> FoundFile {
    FoundFile {
        id: item.id.clone(),
        name: item.name.clone(),
        url: source.config.file_link(&item.id),
        path: item.path(),
        size: item.size,
        modified_at: item.modified_at.clone(),
        description: item.described().map(str::to_string),
    }
}

fn read_file(source: &BoxSource, args: ReadFile, call: &Call) -> Result<ToolResult, PluginError> {
    let session = source.session();
    match fetch::document(&source.api(&session), args.id.trim(), call) {
        Ok(document) => {
            let about = |key: &str| {
                document
                    .metadata
                    .get(key)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let size = document
                .metadata
                .get("size")
                .and_then(serde_json::Value::as_u64);
            let mut head = document.title.clone();
            if let Some(path) = about("path") {
                head.push_str(&format!(" (in {path}"));
                head.push_str(&size.map_or_else(String::new, |s| format!(", {s} bytes")));
                head.push_str(
                    &about("modified_at").map_or_else(String::new, |m| format!(", modified {m}")),
                );
                head.push(')');
            }
            let link = document.url.clone().unwrap_or_default();
            Ok(ToolResult::text(format!(
                "{head}\n{link}\n\n{}",
                document.text
            )))
        }
        Err(failure) => told(failure),
    }
}

fn list_folder(
    source: &BoxSource,
    args: ListFolder,
    call: &Call,
) -> Result<ToolResult, PluginError> {
    let folder = args.folder_id.trim();
    if let Err(failure) = check_id(folder, "folder") {
        return told(failure);
    }
    if !(1..=1000).contains(&args.limit) {
        return Ok(ToolResult::error("limit must be between 1 and 1000"));
    }
    let session = source.session();
    let api = source.api(&session);
    let url = api.config.api(&format!("/folders/{folder}/items"))
        + &query(&[
            ("fields", LISTING_FIELDS),
            ("limit", &args.limit.to_string()),
            ("offset", &args.offset.to_string()),
        ]);
    let page: Page<Item> = match api.get_json(&url, &format!("listing Box folder {folder}"), call) {
        Ok(page) => page,
        Err(failure) => return told(failure),
    };
    let returned = page.entries.len() as u64;
    let next = args.offset + returned;
    let next_offset = (returned > 0 && page.total_count.is_some_and(|t| next < t)).then_some(next);
    let mut text = format!(
        "Box folder {folder} ({}): {} of {} entries\n",
        source.config.folder_link(folder),
        returned,
        page.total_count
            .map_or_else(|| "?".to_string(), |t| t.to_string())
    );
    let entries: Vec<Entry> = page
        .entries
        .into_iter()
        .map(|item| {
            text.push_str(&format!("- {} {} (id {})\n", item.kind, item.name, item.id));
            Entry {
                kind: item.kind,
                id: item.id,
                name: item.name,
                size: item.size,
                modified_at: item.modified_at,
            }
        })
        .collect();
    if let Some(next) = next_offset {
        text.push_str(&format!("More: list again with offset {next}.\n"));
    }
    Ok(ToolResult::typed(
        text,
        &Listing {
            folder_id: folder.to_string(),
            total_count: page.total_count,
            entries,
            next_offset,
        },
    ))
}

fn upload_file(
    source: &BoxSource,
    args: UploadFile,
    call: &Call,
) -> Result<ToolResult, PluginError> {
    let session = source.session();
    let folder = args.folder_id.trim();
    match upload::upload(
        &source.api(&session),
        &args.name,
        folder,
        args.content.as_bytes(),
        call,
    ) {
        Ok(item) => Ok(ToolResult::text(format!(
            "Uploaded {} to Box folder {folder}: id {}, {}",
            item.name,
            item.id,
            source.config.file_link(&item.id)
        ))),
        Err(failure) => told(failure),
    }
}
