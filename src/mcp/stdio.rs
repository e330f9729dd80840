//! The stdio wire: newline-delimited JSON-RPC on stdin/stdout, with precise answers to bad
//! input.
//!
//! rmcp's own stdio framing drops what it cannot decode without a word (a malformed line, a
//! request whose params do not fit its method, a batch). This transport decodes each line
//! itself and answers what it must refuse with the JSON-RPC error a client can act on:
//! `-32700` for text that is not JSON, `-32600` for JSON that is not a request (batches, a
//! missing or wrong `jsonrpc`, a `null` id, a line over the size limit), `-32602` for params
//! that do not fit a known method. What decodes passes to rmcp untouched, except `tools/call`
//! requests a [`Shortcut`] takes: those are answered without rmcp's service loop (see
//! [`super::direct`]). The read and write halves are rmcp's non-blocking `stdio_pipes()`.
//!
//! Answers go out through one [`Output`]: an answer written while other requests are still
//! being answered joins the lines of the runtime's current round of work and is flushed with
//! them, so a burst of answers is one write (and one wake-up of the client); with nothing
//! else in flight a line is written and flushed at once. At most [`BURST_LIMIT`] bytes wait
//! so: past that an answer waits for its write, so a client that stops reading holds up the
//! answering instead of filling memory.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, ErrorCode, JsonRpcMessage,
    RequestId, ServerJsonRpcMessage,
};
use rmcp::transport::Transport;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, BufReader, BufWriter};

use crate::framing::{Line, MAX_LINE, put_lines, read_line};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

/// MCP request methods a client may send; a request naming one whose params do not decode
/// gets `-32602` rather than rmcp's "method not found".
const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
];

/// Answers some `tools/call` requests itself instead of rmcp's service loop.
pub trait Shortcut: Send + Sync + 'static {
    /// Whether it takes this call (when not, it goes through rmcp as usual).
    fn accepts(&self, params: &CallToolRequestParams) -> bool;

    /// Answer the call through `reply`; `cancel` fires when the client cancels it or the
    /// connection ends.
    fn call_tool(&self, params: CallToolRequestParams, cancel: CancellationToken, reply: Reply);
}

/// Where the answer to a request taken by a [`Shortcut`] goes.
pub struct Reply {
    id: RequestId,
    key: String,
    ticket: u64,
    writer: Arc<dyn LineSink>,
    inflight: Unanswered,
    direct: Direct,
}

impl Reply {
    /// The request's id.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// Write the answer, unless the client cancelled the request (then nothing is sent).
    pub async fn send(self, message: ServerJsonRpcMessage) {
        {
            let mut direct = lock(&self.direct);
            if direct
                .get(&self.key)
                .is_none_or(|(ticket, _)| *ticket != self.ticket)
            {
                return;
            }
            direct.remove(&self.key);
        }
        self.inflight.release(&self.key);
        match serde_json::to_vec(&message) {
            Ok(text) => {
                if let Err(e) = self.writer.clone().write_line(text).await {
                    tracing::debug!(error = %e, "writing an answer to stdout failed");
                }
            }
            Err(e) => tracing::error!(error = %e, "an answer could not be encoded"),
        }
    }
}

/// Writes whole lines, in the order given, on the shared output.
trait LineSink: Send + Sync {
    fn write_line(self: Arc<Self>, text: Vec<u8>) -> BoxFuture<'static, std::io::Result<()>>;
}

/// The most bytes of answers held back for a burst's write (see the module's doc).
const BURST_LIMIT: usize = 256 * 1024;

/// The shared output (see the module's doc): lines in the order written, never interleaved.
struct Output<W> {
    /// Lines written and not yet handed to `writer`, and whether a flush task is on its way.
    pending: std::sync::Mutex<(Vec<u8>, bool)>,
    writer: Mutex<BufWriter<W>>,
    /// While it is not empty, more answers are coming.
    inflight: Unanswered,
}

impl<W: AsyncWrite + Unpin + Send + 'static> Output<W> {
    fn new(writer: W, inflight: Unanswered) -> Self {
        Self {
            pending: std::sync::Mutex::new((Vec::new(), false)),
            writer: Mutex::new(BufWriter::new(writer)),
            inflight,
        }
    }

    /// Hand every pending line to the writer and flush it. Lines are taken under the
    /// writer's lock, so they go out in the order they were written.
    async fn flush(&self, from_task: bool) -> std::io::Result<()> {
        let mut writer = self.writer.lock().await;
        let text = {
            let mut pending = lock(&self.pending);
            if from_task {
                pending.1 = false;
            }
            std::mem::take(&mut pending.0)
        };
        put_lines(&mut writer, &text).await
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> LineSink for Output<W> {
    fn write_line(self: Arc<Self>, text: Vec<u8>) -> BoxFuture<'static, std::io::Result<()>> {
        let more_coming = self.inflight.count() > 0;
        {
            let mut pending = lock(&self.pending);
            pending.0.extend_from_slice(&text);
            pending.0.push(b'\n');
            if more_coming && pending.0.len() < BURST_LIMIT {
                if !pending.1 {
                    pending.1 = true;
                    let output = self.clone();
                    // Yields once, so the answers the runtime has ready join this write.
                    tokio::spawn(async move {
                        tokio::task::yield_now().await;
                        if let Err(e) = output.flush(true).await {
                            tracing::debug!(error = %e, "writing answers to stdout failed");
                        }
                    });
                }
                return Box::pin(std::future::ready(Ok(())));
            }
        }
        Box::pin(async move { self.flush(false).await })
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Newline-delimited JSON-RPC over a reader and a writer.
///
/// Reading and decoding run in a task of their own: rmcp may drop a pending `receive` to
/// send something, and a line half-read (or a refusal half-written) at that moment must not
/// be lost. `receive` only takes decoded messages from a channel, which is cancel-safe.
///
/// When input ends (end of file, or [`LineTransport::stop_reading`]), `receive` reports the
/// end only once every request already read is answered (for at most [`DRAIN_LIMIT`]): rmcp
/// stops its service loop at the end of input, and an answer still being worked out would
/// be lost with its audit row.
pub struct LineTransport<W> {
    writer: Arc<Output<W>>,
    incoming: mpsc::Receiver<ClientJsonRpcMessage>,
    inflight: Unanswered,
    /// Cancels what the shortcut still answers once the drain is over.
    ended: CancellationToken,
    stop: CancellationToken,
    /// When the drain gives up; set when input ends.
    drain_until: Option<tokio::time::Instant>,
}

/// How long the end of input waits for the requests already read to be answered. Calls
/// end well before this on their own (`plugins.call_timeout`, `approvals.wait`).
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The ids of requests read but not yet answered: a second request with the id of one still
/// being answered is refused, since its answer could not be told apart; the end of input
/// waits for the set to empty.
type Unanswered = Arc<Pending>;

/// See [`Unanswered`].
#[derive(Default)]
struct Pending {
    ids: std::sync::Mutex<HashSet<String>>,
    emptied: tokio::sync::Notify,
}

impl Pending {
    /// Mark `key` as being answered; false when it already is.
    fn claim(&self, key: &str) -> bool {
        lock(&self.ids).insert(key.to_string())
    }

    /// `key` is answered (or cancelled).
    fn release(&self, key: &str) {
        let mut ids = lock(&self.ids);
        if ids.remove(key) && ids.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    fn count(&self) -> usize {
        lock(&self.ids).len()
    }

    /// Wait until nothing read is unanswered.
    async fn all_answered(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if lock(&self.ids).is_empty() {
                return;
            }
            emptied.await;
        }
    }
}

/// The requests a [`Shortcut`] is answering, by id key: each with a ticket of its own (an id
/// is free again once its request is cancelled, so the key alone cannot tell a late answer
/// from the answer to a new request with the same id) and its cancellation.
type Direct = Arc<std::sync::Mutex<HashMap<String, (u64, CancellationToken)>>>;

fn id_key(id: &rmcp::model::RequestId) -> String {
    match id {
        rmcp::model::NumberOrString::Number(n) => format!("n{n}"),
        rmcp::model::NumberOrString::String(s) => format!("s{s}"),
    }
}

impl<W> LineTransport<W>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// A transport reading `reader` and writing `writer`; spawns the reading task.
    /// `shortcut`, when given, answers the `tools/call` requests it accepts.
    pub fn new<R: AsyncRead + Unpin + Send + 'static>(
        reader: R,
        writer: W,
        shortcut: Option<Arc<dyn Shortcut>>,
    ) -> Self {
        let (sender, incoming) = mpsc::channel(64);
        let inflight = Unanswered::default();
        let writer = Arc::new(Output::new(writer, inflight.clone()));
        let ended = CancellationToken::new();
        let stop = CancellationToken::new();
        let reading = LineReader {
            reader: BufReader::with_capacity(64 * 1024, reader),
            writer: writer.clone(),
            line: Vec::with_capacity(4096),
            inflight: inflight.clone(),
            shortcut,
            direct: Direct::default(),
            tickets: 0,
            ended: ended.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(reading.run(sender));
        Self {
            writer,
            incoming,
            inflight,
            ended,
            stop,
            drain_until: None,
        }
    }

    /// A token that ends reading when cancelled, as the end of input would (a signal to
    /// shut down): what was read is still answered.
    pub fn stop_reading(&self) -> CancellationToken {
        self.stop.clone()
    }
}

impl<W> Drop for LineTransport<W> {
    fn drop(&mut self) {
        self.ended.cancel();
    }
}

/// The reading half: lines in, decoded messages out, refusals written directly.
struct LineReader<R, W> {
    reader: BufReader<R>,
    writer: Arc<Output<W>>,
    line: Vec<u8>,
    inflight: Unanswered,
    shortcut: Option<Arc<dyn Shortcut>>,
    direct: Direct,
    tickets: u64,
    /// Fires when the transport is done, cancelling what the shortcut still answers.
    ended: CancellationToken,
    /// Ends reading early (shutdown).
    stop: CancellationToken,
}

impl<R, W> LineReader<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// Read until end of input (or until nobody receives any more).
    async fn run(mut self, sender: mpsc::Sender<ClientJsonRpcMessage>) {
        loop {
            let read = tokio::select! {
                read = read_line(&mut self.reader, &mut self.line) => read,
                () = self.stop.cancelled() => {
                    tracing::info!("no longer reading requests; answering those already read");
                    return;
                }
            };
            match read {
                Err(e) => {
                    tracing::warn!(error = %e, "reading stdin failed; ending the session");
                    return;
                }
                Ok(Line::End) => return,
                Ok(Line::TooLong) => {
                    let message =
                        format!("Invalid request: the message is longer than {MAX_LINE} bytes");
                    refuse(
                        self.writer.clone(),
                        Value::Null,
                        ErrorCode::INVALID_REQUEST,
                        message,
                    )
                    .await;
                    continue;
                }
                Ok(Line::Read) => {}
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Some(shortcut) = &self.shortcut
                && let Some((id, params)) = tool_call(&self.line)
                && shortcut.accepts(&params)
            {
                let shortcut = shortcut.clone();
                self.take_call(&shortcut, id, params).await;
                continue;
            }
            let message = match decode(&self.line) {
                Decoded::Message(message) => *message,
                Decoded::Refuse(id, code, why) => {
                    refuse(self.writer.clone(), id, code, why).await;
                    continue;
                }
            };
            // A cancelled request may never be answered: forget its id.
            if let JsonRpcMessage::Notification(notification) = &message
                && let rmcp::model::ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                && let Some(id) = &cancelled.params.request_id
            {
                let key = id_key(id);
                self.inflight.release(&key);
                if let Some((_, cancel)) = lock(&self.direct).remove(&key) {
                    cancel.cancel();
                }
            }
            if let JsonRpcMessage::Request(request) = &message
                && claim(&self.inflight, &self.writer, &request.id)
                    .await
                    .is_none()
            {
                continue;
            }
            if sender.send(message).await.is_err() {
                return;
            }
        }
    }
}

impl<R, W> LineReader<R, W>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// Hand a `tools/call` to the shortcut, refusing an id still in use.
    async fn take_call(
        &mut self,
        shortcut: &Arc<dyn Shortcut>,
        id: RequestId,
        params: CallToolRequestParams,
    ) {
        let Some(key) = claim(&self.inflight, &self.writer, &id).await else {
            return;
        };
        let cancel = self.ended.child_token();
        self.tickets += 1;
        let ticket = self.tickets;
        lock(&self.direct).insert(key.clone(), (ticket, cancel.clone()));
        let reply = Reply {
            id,
            key,
            ticket,
            writer: self.writer.clone(),
            inflight: self.inflight.clone(),
            direct: self.direct.clone(),
        };
        shortcut.call_tool(params, cancel, reply);
    }
}

/// Mark `id` as being answered and return its key; a request reusing the id of one still
/// being answered is refused instead (its answer could not be told apart), and `None`.
async fn claim<W: AsyncWrite + Unpin + Send + 'static>(
    inflight: &Unanswered,
    writer: &Arc<Output<W>>,
    id: &RequestId,
) -> Option<String> {
    let key = id_key(id);
    if inflight.claim(&key) {
        return Some(key);
    }
    let id = serde_json::to_value(id).unwrap_or(Value::Null);
    let why = STILL_ANSWERING.to_string();
    refuse(writer.clone(), id, ErrorCode::INVALID_REQUEST, why).await;
    None
}

/// The refusal of a request whose id is taken.
const STILL_ANSWERING: &str =
    "Invalid request: a request with this id is still being answered; use a new id";

/// Just enough of a line to tell a `tools/call` request.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<RequestId>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

/// The id and params of a well-formed `tools/call` request; anything else (including a
/// malformed call, which deserves the precise refusal [`decode`] gives) is `None`.
pub fn tool_call(line: &[u8]) -> Option<(RequestId, CallToolRequestParams)> {
    let envelope: Envelope<'_> = serde_json::from_slice(line).ok()?;
    if envelope.method.as_deref() != Some("tools/call")
        || envelope.jsonrpc.as_deref() != Some("2.0")
    {
        return None;
    }
    let params = serde_json::from_str(envelope.params?.get()).ok()?;
    Some((envelope.id?, params))
}

/// What one line decodes to.
pub enum Decoded {
    /// A message for rmcp.
    Message(Box<ClientJsonRpcMessage>),
    /// A refusal to write back: id, code, message.
    Refuse(Value, ErrorCode, String),
}

/// Decode one (non-blank) line: a message for rmcp, or the precise refusal.
pub fn decode(line: &[u8]) -> Decoded {
    match serde_json::from_slice::<ClientJsonRpcMessage>(line) {
        Ok(message) => match misfit(&message) {
            None => Decoded::Message(Box::new(message)),
            Some((id, method)) => {
                let detail = serde_json::from_slice::<Value>(line)
                    .ok()
                    .and_then(|v| serde_json::from_value::<ClientRequestProbe>(v).err())
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "they do not match the method's schema".into());
                Decoded::Refuse(
                    id,
                    ErrorCode::INVALID_PARAMS,
                    format!("Invalid params for {method}: {detail}"),
                )
            }
        },
        Err(error) => {
            let (id, code, message) = diagnose(line, &error);
            Decoded::Refuse(id, code, message)
        }
    }
}

/// What to answer to a line that did not decode as a client message.
fn diagnose(line: &[u8], error: &serde_json::Error) -> (Value, ErrorCode, String) {
    let value: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(parse) => {
            let what = if std::str::from_utf8(line).is_err() {
                "the message is not UTF-8 text".to_string()
            } else {
                format!("the message is not valid JSON: {parse}")
            };
            return (
                Value::Null,
                ErrorCode::PARSE_ERROR,
                format!("Parse error: {what}"),
            );
        }
    };
    let invalid = |id: Value, why: &str| {
        (
            id,
            ErrorCode::INVALID_REQUEST,
            format!("Invalid request: {why}"),
        )
    };
    let Value::Object(object) = &value else {
        if value.is_array() {
            return invalid(
                Value::Null,
                "batches are not supported; send one message per line",
            );
        }
        return invalid(Value::Null, "a message must be a JSON object");
    };
    let id = match object.get("id") {
        Some(id @ Value::String(_)) => id.clone(),
        Some(id @ Value::Number(n)) if n.is_i64() || n.is_u64() => id.clone(),
        Some(Value::Number(_)) => {
            return invalid(
                Value::Null,
                "the id must be an integer that fits in 64 bits, or a string",
            );
        }
        Some(Value::Null) => {
            return invalid(
                Value::Null,
                "the id must be a string or an integer, not null",
            );
        }
        Some(_) => return invalid(Value::Null, "the id must be a string or an integer"),
        None => Value::Null,
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(id, "\"jsonrpc\" must be \"2.0\"");
    }
    match object.get("method").map(|m| m.as_str()) {
        Some(Some(method)) if KNOWN_METHODS.contains(&method) => (
            id,
            ErrorCode::INVALID_PARAMS,
            format!("Invalid params for {method}: {error}"),
        ),
        Some(Some(method)) => (
            id,
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        ),
        Some(None) => invalid(id, "\"method\" must be a string"),
        None => invalid(
            id,
            "a request needs a \"method\" (responses to unknown ids are not accepted)",
        ),
    }
}

/// Answer a refused message on the same writer as every other answer.
async fn refuse<W: AsyncWrite + Unpin + Send + 'static>(
    writer: Arc<Output<W>>,
    id: Value,
    code: ErrorCode,
    message: String,
) {
    tracing::debug!(code = code.0, %message, "refused a malformed message");
    let reply = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code.0, "message": message}});
    let _ = writer
        .clone()
        .write_line(reply.to_string().into_bytes())
        .await;
}

/// A request rmcp decoded only as a custom request although it names a known method: its
/// params did not fit.
fn misfit(message: &ClientJsonRpcMessage) -> Option<(Value, String)> {
    let JsonRpcMessage::Request(request) = message else {
        return None;
    };
    let ClientRequest::CustomRequest(custom) = &request.request else {
        return None;
    };
    KNOWN_METHODS.contains(&custom.method.as_str()).then(|| {
        let id = serde_json::to_value(&request.id).unwrap_or(Value::Null);
        (id, custom.method.clone())
    })
}

impl<W> Transport<RoleServer> for LineTransport<W>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answered = match &item {
            JsonRpcMessage::Response(response) => Some(&response.id),
            JsonRpcMessage::Error(error) => error.id.as_ref(),
            _ => None,
        };
        if let Some(id) = answered {
            self.inflight.release(&id_key(id));
        }
        let writer = self.writer.clone();
        async move {
            let text = serde_json::to_vec(&item).map_err(std::io::Error::other)?;
            writer.write_line(text).await
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        if let Some(message) = self.incoming.recv().await {
            return Some(message);
        }
        // rmcp makes a new `receive` each time round its loop: the deadline is set once.
        let until = *self
            .drain_until
            .get_or_insert_with(|| tokio::time::Instant::now() + DRAIN_LIMIT);
        if tokio::time::timeout_at(until, self.inflight.all_answered())
            .await
            .is_err()
        {
            tracing::warn!(
                unanswered = self.inflight.count(),
                "input ended; requests still unanswered after {DRAIN_LIMIT:?} are given up"
            );
        }
        self.ended.cancel();
        None
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.flush(false).await
    }
}

/// Decodes only the typed requests (no custom fallback), to say why params did not fit.
type ClientRequestProbe = rmcp::model::JsonRpcRequest<StrictRequest>;

/// The typed requests of [`ClientRequest`] without its catch-all, so decoding says what is
/// wrong with the params.
#[derive(serde::Deserialize)]
#[serde(tag = "method")]
#[allow(dead_code, clippy::large_enum_variant)] // Decoded only for the error message.
enum StrictRequest {
    #[serde(rename = "tools/call")]
    CallTool {
        params: rmcp::model::CallToolRequestParams,
    },
    #[serde(rename = "resources/read")]
    ReadResource {
        params: rmcp::model::ReadResourceRequestParams,
    },
    #[serde(rename = "prompts/get")]
    GetPrompt {
        params: rmcp::model::GetPromptRequestParams,
    },
    #[serde(rename = "completion/complete")]
    Complete {
        params: rmcp::model::CompleteRequestParams,
    },
    #[serde(rename = "logging/setLevel")]
    SetLevel {
        params: rmcp::model::SetLevelRequestParams,
    },
    #[serde(rename = "initialize")]
    Initialize {
        params: rmcp::model::InitializeRequestParams,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn answers_held_for_a_burst_are_bounded_and_go_out_whole_in_order() {
        let (writer, mut reader) = tokio::io::duplex(4096);
        let inflight = Unanswered::default();
        assert!(inflight.claim("n1"), "another request is in flight");
        let output = Arc::new(Output::new(writer, inflight));
        let line = |i: usize| format!("{i:0>1023}").into_bytes();
        // Nobody reads: the answers are held up to the limit, then one waits for its write.
        let mut written = 0;
        let waiting = loop {
            let mut write = output.clone().write_line(line(written));
            written += 1;
            if futures::poll!(&mut write).is_pending() {
                break write;
            }
            assert!(
                written <= BURST_LIMIT / 1024 + 8,
                "answers held without bound"
            );
        };
        let reading = tokio::spawn(async move {
            let mut text = Vec::new();
            reader.read_to_end(&mut text).await.unwrap();
            text
        });
        waiting.await.unwrap();
        output.flush(false).await.unwrap();
        drop(output);
        let text = reading.await.unwrap();
        let expected: Vec<u8> = (0..written)
            .flat_map(|i| {
                let mut l = line(i);
                l.push(b'\n');
                l
            })
            .collect();
        assert!(text == expected, "lines lost, torn or out of order");
    }
}
