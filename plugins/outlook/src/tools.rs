//! The connector's tools, as one table: reading (`search_mail`, `read_mail`, `list_folders`,
//! `check`: read-only), writing (`create_draft` only with `drafts`, `send_mail` only with
//! `send`: the host asks the person first), and the sign-in convention (`sign_in`,
//! `sign_out`). A failure the model can act on is an error result saying what to do.

use schemars::JsonSchema;
use serde::Deserialize;
use switchboard_plugin_api::model::ToolAnnotations;
use switchboard_plugin_api::source::{CHECK, SIGN_IN, SIGN_OUT};
use switchboard_plugin_api::{Call, PluginError, Tool, ToolResult, Tools};

use crate::Outlook;
use crate::config::Config;
use crate::error::MailError;
use crate::wire::MailFolder;
use crate::{compose, fetch, search};

/// The arguments of `search_mail`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchMail {
    /// The words to look for in subjects, bodies and senders; KQL properties such as
    /// from:adele or subject:budget narrow it.
    #[schemars(length(min = 1))]
    pub query: String,
    /// How many messages at most.
    #[serde(default = "ten")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
    /// Only this folder: an id from list_folders or a well-known name (inbox, sentitems,
    /// drafts, archive, deleteditems).
    #[serde(default)]
    pub folder: Option<String>,
}

fn ten() -> u32 {
    10
}

/// The arguments of `read_mail`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadMail {
    /// The message id search_mail returned.
    #[schemars(length(min = 1))]
    pub id: String,
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// The arguments of `sign_in`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// device_code (a person, the default without client_secret) or client_credentials (the
    /// app, the default with it).
    #[serde(default)]
    pub flow: Option<String>,
}

/// The arguments of `create_draft` and `send_mail`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    /// The recipients' addresses, one per entry.
    #[schemars(length(min = 1))]
    pub to: Vec<String>,
    /// Addresses to copy, one per entry.
    #[serde(default)]
    pub cc: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The message, as plain text.
    pub body: String,
}

/// A tool that reaches the mailbox and changes it: asked about, never read-only.
fn writes(title: &str) -> ToolAnnotations {
    ToolAnnotations {
        title: Some(title.to_string()),
        read_only_hint: Some(false),
        destructive_hint: Some(true),
        idempotent_hint: Some(false),
        open_world_hint: Some(true),
    }
}

/// The table for these settings.
pub fn tools(config: &Config) -> Tools<Outlook> {
    let mut tools = Tools::new()
        .add(
            Tool::new(
                "search_mail",
                "Search the Outlook mailbox: messages whose subject, body or sender match the \
                 words, newest first, each with its id (for read_mail), subject, sender, date, \
                 preview and a link.",
            )
            .title("Search mail")
            .annotations(ToolAnnotations::read_only()),
            search_mail,
        )
        .add(
            Tool::new(
                "read_mail",
                "Read one message by the id search_mail gave: headers, the body as text, and the \
                 attachments' names, types and sizes.",
            )
            .title("Read a message")
            .annotations(ToolAnnotations::read_only()),
            read_mail,
        )
        .add(
            Tool::new(
                "list_folders",
                "List the mailbox's top-level folders with their ids and message counts (an id \
                 or a well-known name such as inbox narrows search_mail).",
            )
            .title("List mail folders")
            .annotations(ToolAnnotations::read_only()),
            list_folders,
        );
    if config.drafts {
        tools = tools.add(
            Tool::new(
                "create_draft",
                "Save a new message as a draft in Drafts (not sent) and return its id and link.",
            )
            .title("Create a draft")
            .annotations(writes("Create a draft")),
            create_draft,
        );
    }
    if config.send {
        tools = tools.add(
            Tool::new(
                "send_mail",
                "Send a plain-text message from the mailbox now, keeping a copy in Sent Items.",
            )
            .title("Send mail")
            .annotations(writes("Send mail")),
            send_mail,
        );
    }
    tools
        .add(
            Tool::new(
                SIGN_IN,
                "Sign in to Outlook: shows a code and the address to enter it at, then waits \
                 until the sign-in is finished. With a client secret configured, checks the \
                 app's credentials instead.",
            )
            .title("Sign in to Outlook")
            .annotations(ToolAnnotations {
                title: Some("Sign in to Outlook".to_string()),
                read_only_hint: Some(false),
                destructive_hint: Some(false),
                idempotent_hint: Some(false),
                open_world_hint: Some(true),
            }),
            sign_in,
        )
        .add(
            Tool::new(
                CHECK,
                "Ask Microsoft Graph who the connector is signed in as.",
            )
            .title("Check the Outlook connection")
            .annotations(ToolAnnotations::read_only()),
            check,
        )
        .add(
            Tool::new(
                SIGN_OUT,
                "Forget the Outlook sign-in kept in the OS keyring.",
            )
            .title("Sign out of Outlook")
            .annotations(ToolAnnotations {
                title: Some("Sign out of Outlook".to_string()),
                read_only_hint: Some(false),
                destructive_hint: Some(true),
                idempotent_hint: Some(true),
                open_world_hint: Some(false),
            }),
            sign_out,
        )
}

/// A tool's outcome: its text, or its failure as an error result the model reads.
fn answer(outcome: Result<String, MailError>) -> Result<ToolResult, PluginError> {
    Ok(match outcome {
        Ok(text) => ToolResult::text(text),
        Err(error) => ToolResult::error(error.message()),
    })
}

fn search_mail(
    outlook: &Outlook,
    args: SearchMail,
    call: &Call,
) -> Result<ToolResult, PluginError> {
    answer((|| {
        let api = outlook.session.api()?;
        let found = search::messages(
            &api,
            &args.query,
            args.folder.as_deref(),
            args.limit.clamp(1, 100) as usize,
            outlook.config.page_size,
            call,
        )?;
        if found.is_empty() {
            return Ok(format!("No messages match {:?}.", args.query));
        }
        let lines: Vec<String> = found
            .iter()
            .map(|m| {
                let hit = search::hit(m);
                format!(
                    "- {}\n  id: {}\n  {}\n  {}",
                    hit.title,
                    hit.id,
                    hit.snippet.unwrap_or_default(),
                    hit.url.unwrap_or_default()
                )
            })
            .collect();
        Ok(format!("{} messages:\n{}", found.len(), lines.join("\n")))
    })())
}

fn read_mail(outlook: &Outlook, args: ReadMail, call: &Call) -> Result<ToolResult, PluginError> {
    answer((|| {
        let api = outlook.session.api()?;
        let document = fetch::message(&api, &args.id, call)?;
        let link = document
            .url
            .map(|u| format!("\n\nOpen in Outlook: {u}"))
            .unwrap_or_default();
        Ok(format!("{}{link}", document.text))
    })())
}

fn list_folders(outlook: &Outlook, _: Nothing, call: &Call) -> Result<ToolResult, PluginError> {
    answer((|| {
        let api = outlook.session.api()?;
        let first = format!(
            "{}/mailFolders?$top={}",
            api.root(),
            outlook.config.page_size
        );
        let mut folders: Vec<MailFolder> = Vec::new();
        let cut = api.pages(first, "listing the mail folders", call, 20, |f| {
            folders.push(f);
            true
        })?;
        let mut lines: Vec<String> = folders
            .iter()
            .map(|f| {
                format!(
                    "- {} ({} messages, {} unread, {} subfolders)\n  id: {}",
                    f.display_name,
                    f.total_item_count,
                    f.unread_item_count,
                    f.child_folder_count,
                    f.id
                )
            })
            .collect();
        if cut {
            lines.push("(more folders exist than were listed)".to_string());
        }
        Ok(format!("{} folders:\n{}", folders.len(), lines.join("\n")))
    })())
}

fn create_draft(outlook: &Outlook, args: Compose, call: &Call) -> Result<ToolResult, PluginError> {
    answer((|| {
        let message = compose::new_message(&args.to, &args.cc, &args.subject, &args.body)?;
        let api = outlook.session.api()?;
        let draft = compose::draft(&api, &message, call)?;
        let link = draft
            .web_link
            .map(|u| format!(" Open it: {u}"))
            .unwrap_or_default();
        Ok(format!(
            "Saved the draft {:?} in Drafts (not sent); id: {}.{link}",
            draft.subject.unwrap_or_default(),
            draft.id
        ))
    })())
}

fn send_mail(outlook: &Outlook, args: Compose, call: &Call) -> Result<ToolResult, PluginError> {
    answer((|| {
        let message = compose::new_message(&args.to, &args.cc, &args.subject, &args.body)?;
        let api = outlook.session.api()?;
        compose::send(&api, message, call)?;
        Ok(format!(
            "Sent {:?} to {}; a copy is in Sent Items.",
            args.subject,
            args.to.join(", ")
        ))
    })())
}

fn sign_in(outlook: &Outlook, args: SignIn, call: &Call) -> Result<ToolResult, PluginError> {
    answer(outlook.session.sign_in(args.flow.as_deref(), call))
}

fn check(outlook: &Outlook, _: Nothing, call: &Call) -> Result<ToolResult, PluginError> {
    answer(
        outlook
            .session
            .who(call)
            .map(|user| format!("Outlook answers: reading the mailbox of {}.", user.shown()))
            .map_err(|e| match e {
                MailError::Cancelled => e,
                other => {
                    MailError::Failed(format!("The Outlook check failed: {}", other.message()))
                }
            }),
    )
}

fn sign_out(outlook: &Outlook, _: Nothing, _: &Call) -> Result<ToolResult, PluginError> {
    answer(outlook.session.sign_out())
}
