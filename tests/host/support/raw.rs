//! Talking JSON-RPC by hand over `switchboard serve`'s pipes, for tests of the raw wire.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::Home;

/// A `switchboard serve` process and its pipes.
pub struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Raw {
    pub fn spawn(home: &Home) -> Self {
        let mut command = tokio::process::Command::new(crate::support::binary());
        command
            .arg("serve")
            .env("SWITCHBOARD_HOME", home.path())
            .env("SWITCHBOARD_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn");
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.expect("write");
        stdin.write_all(b"\n").await.expect("write");
        stdin.flush().await.expect("flush");
    }

    pub async fn send(&mut self, message: Value) {
        self.send_bytes(message.to_string().as_bytes()).await;
    }

    /// The response with `id`; notifications in between are skipped. Every line must be
    /// JSON-RPC: stdout is protocol only.
    pub async fn response(&mut self, id: i64) -> Value {
        self.response_to(&json!(id)).await
    }

    /// The next message the server writes (a response or a notification).
    pub async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(15), self.lines.next_line())
            .await
            .expect("a message in time")
            .expect("read")
            .expect("stdout open");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {line}"))
    }

    /// The response whose id is `id` (any JSON value, `null` for refusals without an id).
    pub async fn response_to(&mut self, id: &Value) -> Value {
        let mut skipped = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(15), self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no response to {id} in time; skipped: {skipped:?}"))
                .expect("read")
                .expect("stdout open");
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {line}"));
            assert_eq!(message["jsonrpc"], "2.0", "{line}");
            if &message["id"] == id {
                return message;
            }
            skipped.push(line.chars().take(200).collect::<String>());
        }
    }

    pub async fn initialize(&mut self) {
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
            .await;
        let answer = self.response(1).await;
        assert_eq!(answer["result"]["serverInfo"]["name"], "switchboard");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    pub async fn call(&mut self, id: i64, tool: &str, arguments: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}))
            .await;
        self.response(id).await
    }

    /// The process id, for signals.
    pub fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }

    /// Close stdin, as a client that has sent its last request does.
    pub fn close_input(&mut self) {
        drop(self.stdin.take());
    }

    /// Every message still to come, until the server closes stdout.
    pub async fn rest(&mut self) -> Vec<Value> {
        let mut messages = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
                .await
                .expect("stdout closes in time")
                .expect("read");
            let Some(line) = line else {
                return messages;
            };
            messages.push(
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {line}")),
            );
        }
    }

    /// Wait for the process to exit (after its input closed or a signal).
    pub async fn exit(mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("exit in time")
            .expect("wait")
    }

    /// Close stdin and wait for the process to exit.
    pub async fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("exit after stdin closes")
            .expect("wait")
    }
}
