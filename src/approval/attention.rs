//! Reaching the person when a question waits in the inbox: a running `serve` starts the
//! approval page on demand and shows a desktop notification naming the tool and the page;
//! and the words that tell the model (and through it the person) where to answer.

use crate::config::Config;
use crate::state::State;
use crate::state::approvals::ApprovalRow;

use super::notify;
use super::page::OnDemand;

/// How a process reaches the person.
pub struct Attention {
    page: Option<OnDemand>,
    notify: bool,
    /// Woken whenever this process puts a question (an App card waits for its call's).
    asked: tokio::sync::Notify,
}

impl Attention {
    /// A one-shot command: nothing is started; the answer names the CLI and `approvals ui`.
    pub fn none() -> Self {
        Self {
            page: None,
            notify: false,
            asked: tokio::sync::Notify::new(),
        }
    }

    /// A running server: the page on demand, and notifications unless `approvals.notify` is
    /// off.
    pub fn serving(config: &Config, state: State) -> Self {
        Self {
            page: Some(OnDemand::new(state, config.audit.store_arguments)),
            notify: config.approvals.notify,
            asked: tokio::sync::Notify::new(),
        }
    }

    /// The approval page's address, starting it if needed.
    pub async fn page_url(&self) -> Option<String> {
        match &self.page {
            Some(page) => page.url().await,
            None => None,
        }
    }

    /// Woken when this process puts a question. Enable it before looking for a question,
    /// so one put in between is not missed.
    pub fn asked(&self) -> tokio::sync::futures::Notified<'_> {
        self.asked.notified()
    }

    /// A new question waits: make sure the page is up, and notify the person.
    pub async fn announce(&self, row: &ApprovalRow) {
        self.asked.notify_waiters();
        let url = self.page_url().await;
        if self.notify {
            let title = format!("Approve {}?", super::values::escape(&row.tool, false));
            let client = row.client.as_deref().unwrap_or("Your assistant");
            let body = match &url {
                Some(url) => format!(
                    "{} wants to run {} (from {}). Answer on {url} or with `switchboard approvals approve {}`.",
                    super::values::escape(client, false),
                    super::values::escape(&row.tool, false),
                    super::values::escape(&row.provider, false),
                    row.id
                ),
                None => format!(
                    "{} wants to run {}. Answer with `switchboard approvals approve {}` or `switchboard approvals ui`.",
                    super::values::escape(client, false),
                    super::values::escape(&row.tool, false),
                    row.id
                ),
            };
            notify::send(title, body);
        }
    }
}

/// Where and how the person answers question `id`.
pub fn how_to_answer(id: &str, url: Option<&str>) -> String {
    let cli = format!(
        "run `switchboard approvals approve {id}` (add `--remember session` or `--remember always`) or `switchboard approvals deny {id}`"
    );
    match url {
        Some(url) => format!("open {url} and choose Approve or Deny, or {cli}"),
        None => format!("{cli}, or answer on the page `switchboard approvals ui` opens"),
    }
}
