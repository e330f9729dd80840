//! The line-level link to a stdio server: the pipes, shared by switchboard's forwarded
//! requests and rmcp's client.
//!
//! Forwarded requests (a tool call, a resource read...) are the hot path, so they skip rmcp:
//! each is written as one JSON-RPC line with an id of switchboard's own (`switchboard-N`; rmcp
//! numbers its requests, so the two never meet), and its answer is handed back by the reader
//! as it is read, without a trip through rmcp's service loop. Everything else (initialize, the
//! lists, the server's own questions, log messages and list changes) is rmcp's: the reader
//! passes those messages on to [`LinkTransport`], and rmcp's messages are written on the same
//! pipe. Progress notifications are routed as they are read, so they reach the client in wire
//! order, before the answer that follows them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::RoleClient;
use rmcp::model::{ErrorData, ProgressNotificationParam, RequestId};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot};

use super::Server;
use crate::framing::{Line, MAX_LINE, put_line, read_line};

/// The id prefix of switchboard's own requests.
const ID_PREFIX: &str = "switchboard-";

/// What a forwarded request ended in.
#[derive(Debug)]
pub enum Answer {
    /// The server's `result`, unparsed.
    Result(Box<RawValue>),
    /// The server's `error`.
    Error(ErrorData),
    /// The connection closed before the answer came.
    Closed,
}

/// The server's stdin; `None` once closed.
type Writer = Arc<tokio::sync::Mutex<Option<BufWriter<ChildStdin>>>>;

/// The switchboard side of one stdio connection.
pub struct Link {
    writer: Writer,
    waiting: Mutex<Waiting>,
}

/// The forwarded requests not yet answered.
#[derive(Default)]
struct Waiting {
    next: u64,
    answers: HashMap<u64, oneshot::Sender<Answer>>,
    closed: bool,
}

/// A request written to the server, waiting for its answer.
pub struct Sent {
    /// Its id on the link (also its progress token).
    pub id: RequestId,
    number: u64,
    answer: oneshot::Receiver<Answer>,
}

impl Sent {
    /// Its number on the link, for [`Link::forget`].
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Wait for the answer.
    pub async fn answer(self) -> Answer {
        self.answer.await.unwrap_or(Answer::Closed)
    }
}

/// One request as written.
#[derive(Serialize)]
struct Outgoing<'a, P> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    method: &'a str,
    params: &'a P,
}

/// Just enough of an incoming line to tell where it goes.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<ErrorData>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

impl Link {
    /// Take over a started server's pipes: returns the link for forwarded requests and the
    /// transport for rmcp's client, and starts the task reading the server's stdout.
    pub fn open(
        stdout: ChildStdout,
        stdin: ChildStdin,
        server: Arc<Server>,
    ) -> (Arc<Self>, LinkTransport) {
        let writer: Writer = Arc::new(tokio::sync::Mutex::new(Some(BufWriter::new(stdin))));
        let link = Arc::new(Self {
            writer: writer.clone(),
            waiting: Mutex::default(),
        });
        let (to_rmcp, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read(link.clone(), stdout, server, to_rmcp));
        (link, LinkTransport { writer, incoming })
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number the next request and start waiting for its answer. Its id is known (and can be
    /// registered wherever the server's replies may need it) before it is written with
    /// [`Link::send`].
    pub fn reserve(&self) -> Result<Sent, Answer> {
        let (sender, answer) = oneshot::channel();
        let mut waiting = self.waiting();
        if waiting.closed {
            return Err(Answer::Closed);
        }
        waiting.next += 1;
        let number = waiting.next;
        waiting.answers.insert(number, sender);
        let id = RequestId::String(format!("{ID_PREFIX}{number}").into());
        Ok(Sent { id, number, answer })
    }

    /// Write the request `sent` reserved: `method` with `params`.
    pub async fn send<P: Serialize>(
        &self,
        sent: &Sent,
        method: &str,
        params: &P,
    ) -> std::io::Result<()> {
        let line = Outgoing {
            jsonrpc: "2.0",
            id: &sent.id,
            method,
            params,
        };
        let written = match serde_json::to_vec(&line) {
            Ok(text) => write_line(&self.writer, text).await,
            Err(e) => Err(std::io::Error::other(e)),
        };
        if written.is_err() {
            self.forget(sent.number);
        }
        written
    }

    /// Write a notification.
    pub async fn notify<P: Serialize>(&self, method: &str, params: &P) -> std::io::Result<()> {
        let text = serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0",
            "method": method,
            "params": params,
        }))
        .map_err(std::io::Error::other)?;
        write_line(&self.writer, text).await
    }

    /// Stop waiting for request `number`'s answer (it was abandoned).
    pub fn forget(&self, number: u64) {
        self.waiting().answers.remove(&number);
    }

    /// Hand an answer to the request waiting for it.
    fn answered(&self, number: u64, answer: Answer) {
        if let Some(sender) = self.waiting().answers.remove(&number) {
            let _ = sender.send(answer);
        }
    }

    /// The connection closed: every request still waiting ends with [`Answer::Closed`].
    fn closed(&self) {
        let mut waiting = self.waiting();
        waiting.closed = true;
        for (_, sender) in waiting.answers.drain() {
            let _ = sender.send(Answer::Closed);
        }
    }
}

/// The number of one of switchboard's own ids, given as its raw JSON.
fn own_number(id: &RawValue) -> Option<u64> {
    id.get()
        .strip_prefix('"')?
        .strip_suffix('"')?
        .strip_prefix(ID_PREFIX)?
        .parse()
        .ok()
}

async fn write_line(writer: &Writer, text: Vec<u8>) -> std::io::Result<()> {
    let mut writer = writer.lock().await;
    let Some(writer) = writer.as_mut() else {
        return Err(std::io::ErrorKind::BrokenPipe.into());
    };
    put_line(writer, text).await
}

/// Read the server's stdout until it closes, sending each message where it belongs.
async fn read(
    link: Arc<Link>,
    stdout: ChildStdout,
    server: Arc<Server>,
    to_rmcp: mpsc::UnboundedSender<RxJsonRpcMessage<RoleClient>>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::with_capacity(4096);
    loop {
        match read_line(&mut reader, &mut line).await {
            Ok(Line::Read) => {}
            Ok(Line::End) => break,
            Ok(Line::TooLong) => {
                tracing::warn!(server = %server.spec.name, "the server wrote a line longer than {MAX_LINE} bytes; it is ignored");
                continue;
            }
            Err(e) => {
                tracing::debug!(server = %server.spec.name, error = %e, "reading the server's stdout failed");
                break;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(message) = dispatch(&link, &server, &line)
            && to_rmcp.send(message).is_err()
        {
            break;
        }
    }
    link.closed();
}

/// Deliver one line: an answer to a forwarded request goes to its waiter and a progress
/// notification to its request's client; anything else is returned, decoded, for rmcp.
fn dispatch(
    link: &Link,
    server: &Arc<Server>,
    line: &[u8],
) -> Option<RxJsonRpcMessage<RoleClient>> {
    if let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(line) {
        match envelope.method.as_deref() {
            None => {
                if let Some(number) = envelope.id.and_then(own_number) {
                    let answer = match (envelope.result, envelope.error) {
                        (Some(result), _) => Answer::Result(result.to_owned()),
                        (None, Some(error)) => Answer::Error(error),
                        (None, None) => Answer::Error(ErrorData::internal_error(
                            "the server answered with neither a result nor an error",
                            None,
                        )),
                    };
                    link.answered(number, answer);
                    return None;
                }
            }
            Some("notifications/progress") => {
                if let Some(params) = envelope.params
                    && let Ok(params) =
                        serde_json::from_str::<ProgressNotificationParam>(params.get())
                {
                    server.route_progress(params);
                    return None;
                }
            }
            Some(_) => {}
        }
    }
    match serde_json::from_slice(line) {
        Ok(message) => Some(message),
        Err(e) => {
            let text = String::from_utf8_lossy(line);
            let shown: String = text.chars().take(200).collect();
            tracing::warn!(server = %server.spec.name, error = %e, line = %shown.trim_end(), "the server wrote a line that is not an MCP message; it is ignored");
            None
        }
    }
}

/// rmcp's client side of a [`Link`]: it writes on the shared pipe and reads what the link's
/// reader passes on.
pub struct LinkTransport {
    writer: Writer,
    incoming: mpsc::UnboundedReceiver<RxJsonRpcMessage<RoleClient>>,
}

impl Transport<RoleClient> for LinkTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = self.writer.clone();
        async move {
            let text = serde_json::to_vec(&item).map_err(std::io::Error::other)?;
            write_line(&writer, text).await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        self.incoming.recv().await
    }

    /// Close the server's stdin (a well-behaved server exits on its own then).
    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut writer = self.writer.lock().await;
        if let Some(mut open) = writer.take() {
            let _ = open.flush().await;
        }
        Ok(())
    }
}
