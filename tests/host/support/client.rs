//! A real MCP client (rmcp) for the tests: it launches `switchboard serve` with pipes, records
//! the notifications it receives, and answers elicitation and sampling as told.

#![allow(deprecated)] // logging and sampling are deprecated in 2026-07-28 only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation,
    LoggingMessageNotificationParam, ProgressNotificationParam, ProtocolVersion, SamplingMessage,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext, RunningService,
};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient, ServiceExt};
use tokio::sync::mpsc;

use super::Home;

/// Something the server told the client.
#[derive(Debug, Clone)]
pub enum Event {
    /// `notifications/tools/list_changed`.
    ToolsChanged,
    /// `notifications/progress`.
    Progress(ProgressNotificationParam),
    /// `notifications/message`.
    Log(LoggingMessageNotificationParam),
}

/// The receiving end of the client's events.
pub struct Events(mpsc::UnboundedReceiver<Event>);

impl Events {
    /// Wait (at most `limit`) for the first event that `pick` accepts; earlier ones are
    /// dropped.
    pub async fn wait_for<T>(
        &mut self,
        limit: Duration,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let event = tokio::time::timeout_at(deadline, self.0.recv())
                .await
                .unwrap_or_else(|_| panic!("no matching event within {limit:?}"))
                .expect("client closed");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    }
}

/// How the client answers `elicitation/create`.
#[derive(Clone, Debug)]
pub enum ElicitAnswer {
    /// Accept with this content.
    Accept(serde_json::Value),
    /// Decline.
    Decline,
    /// Dismiss the question.
    Cancel,
}

/// The test client's handler.
#[derive(Clone)]
pub struct TestClient {
    events: mpsc::UnboundedSender<Event>,
    elicit: Option<ElicitAnswer>,
    sampling: bool,
    stateless: bool,
    apps: bool,
    elicitations: Arc<Mutex<Vec<ElicitRequestParams>>>,
}

impl TestClient {
    /// Requests for elicitation the server sent.
    pub fn elicitations(&self) -> Vec<ElicitRequestParams> {
        self.elicitations.lock().unwrap().clone()
    }
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        if self.elicit.is_some() {
            capabilities = ClientCapabilities::builder().enable_elicitation().build();
        }
        if self.sampling {
            capabilities.sampling = Some(Default::default());
        }
        if self.apps {
            let settings = serde_json::json!({"mimeTypes": ["text/html;profile=mcp-app"]});
            capabilities.extensions = Some(
                [(
                    "io.modelcontextprotocol/ui".to_string(),
                    settings.as_object().cloned().unwrap_or_default(),
                )]
                .into_iter()
                .collect(),
            );
        }
        let version = if self.stateless {
            ProtocolVersion::V_2026_07_28
        } else {
            ProtocolVersion::LATEST_WITH_INITIALIZE
        };
        ClientConfig::new(
            capabilities,
            Implementation::new("switchboard-tests", "1.0.0"),
        )
        .with_protocol_version(version)
    }

    async fn on_tool_list_changed(&self, _ctx: NotificationContext<RoleClient>) {
        let _ = self.events.send(Event::ToolsChanged);
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let _ = self.events.send(Event::Progress(params));
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let _ = self.events.send(Event::Log(params));
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        self.elicitations.lock().unwrap().push(request);
        Ok(match &self.elicit {
            Some(ElicitAnswer::Accept(content)) => {
                let mut result = ElicitResult::new(ElicitationAction::Accept);
                result.content = Some(content.clone());
                result
            }
            Some(ElicitAnswer::Cancel) => ElicitResult::new(ElicitationAction::Cancel),
            _ => ElicitResult::new(ElicitationAction::Decline),
        })
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let asked = params
            .messages
            .first()
            .and_then(|m| serde_json::to_value(&m.content).ok())
            .map(|v| v.to_string())
            .unwrap_or_default();
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text(format!("model saw {asked}")),
            "test-model".into(),
        ))
    }
}

/// Options for [`connect`].
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Answer elicitation (and declare the capability).
    pub elicit: Option<ElicitAnswer>,
    /// Declare and answer sampling.
    pub sampling: bool,
    /// Speak the stateless 2026-07-28 revision (`server/discover`, per-request metadata).
    pub stateless: bool,
    /// Declare the MCP Apps extension (render `text/html;profile=mcp-app` views).
    pub apps: bool,
}

/// Launch `switchboard serve` for `home` and complete the handshake.
pub async fn connect(home: &Home) -> (RunningService<RoleClient, TestClient>, Events) {
    connect_with(home, Options::default()).await
}

/// [`connect`] with options.
pub async fn connect_with(
    home: &Home,
    options: Options,
) -> (RunningService<RoleClient, TestClient>, Events) {
    let mut command = tokio::process::Command::new(super::binary());
    command.arg("serve");
    let (client, events, _pid) = connect_command(home, command, options).await;
    (client, events)
}

/// Launch `command` (which must end up serving MCP on its stdio) with `home`'s environment
/// and complete the handshake; also returns the launched process's id.
pub async fn connect_command(
    home: &Home,
    mut command: tokio::process::Command,
    options: Options,
) -> (RunningService<RoleClient, TestClient>, Events, Option<u32>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = TestClient {
        events: tx,
        elicit: options.elicit,
        sampling: options.sampling,
        stateless: options.stateless,
        apps: options.apps,
        elicitations: Default::default(),
    };
    command
        .env("SWITCHBOARD_HOME", home.path())
        .env_remove("SWITCHBOARD_CONFIG")
        .env("SWITCHBOARD_LOG", "warn")
        .env("RUST_BACKTRACE", "0");
    let transport = TokioChildProcess::new(command).expect("spawn switchboard");
    let pid = transport.id();
    let client = if options.stateless {
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        handler
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("server/discover")
    } else {
        handler.serve(transport).await.expect("MCP handshake")
    };
    (client, Events(rx), pid)
}
