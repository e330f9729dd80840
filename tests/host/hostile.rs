//! Hostile input over stdio and HTTP: every case gets the precise JSON-RPC error where an id
//! is known (or no answer where none is due), and the server answers a `ping` afterwards.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::raw::Raw;
use crate::support::{Home, Plugin};

/// What a case must get back.
enum Expect {
    /// An error with this code and this id.
    Error(i64, Value),
    /// A result for this id.
    Result(Value),
    /// Nothing at all.
    Silence,
}

struct Case {
    name: &'static str,
    line: Vec<u8>,
    expect: Expect,
}

fn case(name: &'static str, line: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        line: line.into(),
        expect,
    }
}

fn request(id: Value, method: &str, params: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        .to_string()
        .into_bytes()
}

const PARSE: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const RESOURCE_NOT_FOUND: i64 = -32002;

fn cases() -> Vec<Case> {
    use Expect::*;
    let null = Value::Null;
    let nested = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let long_id = "x".repeat(10_000);
    vec![
        case("not JSON", "garbage", Error(PARSE, null.clone())),
        case(
            "truncated JSON",
            "{\"jsonrpc\":\"2.0\",\"id\":1,",
            Error(PARSE, null.clone()),
        ),
        case(
            "invalid UTF-8",
            vec![0xff, 0xfe, b'{', 0x80],
            Error(PARSE, null.clone()),
        ),
        case(
            "NUL bytes",
            b"{\"jsonrpc\":\"2.0\",\0\"id\":1}".to_vec(),
            Error(PARSE, null.clone()),
        ),
        case(
            "trailing garbage",
            "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"} x",
            Error(PARSE, null.clone()),
        ),
        case("deeply nested", nested, Error(PARSE, null.clone())),
        case("empty batch", "[]", Error(INVALID_REQUEST, null.clone())),
        case(
            "batch of requests",
            "[{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}]",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case(
            "a string",
            "\"hello\"",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case("a number", "42", Error(INVALID_REQUEST, null.clone())),
        case("null", "null", Error(INVALID_REQUEST, null.clone())),
        case("empty object", "{}", Error(INVALID_REQUEST, null.clone())),
        case(
            "no jsonrpc",
            "{\"id\":7,\"method\":\"ping\"}",
            Error(INVALID_REQUEST, json!(7)),
        ),
        case(
            "jsonrpc 1.0",
            "{\"jsonrpc\":\"1.0\",\"id\":8,\"method\":\"ping\"}",
            Error(INVALID_REQUEST, json!(8)),
        ),
        case(
            "jsonrpc a number",
            "{\"jsonrpc\":2,\"id\":9,\"method\":\"ping\"}",
            Error(INVALID_REQUEST, json!(9)),
        ),
        case(
            "null id",
            "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case(
            "object id",
            "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case(
            "array id",
            "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case(
            "boolean id",
            "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case(
            "fractional id",
            "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case(
            "huge id",
            "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,\"method\":\"ping\"}",
            Error(INVALID_REQUEST, null.clone()),
        ),
        case(
            "long string id",
            request(json!(long_id), "ping", json!({})),
            Result(json!(long_id)),
        ),
        case(
            "negative id",
            request(json!(-5), "ping", json!({})),
            Result(json!(-5)),
        ),
        case(
            "method a number",
            "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":5}",
            Error(INVALID_REQUEST, json!(10)),
        ),
        case(
            "no method",
            "{\"jsonrpc\":\"2.0\",\"id\":11}",
            Error(INVALID_REQUEST, json!(11)),
        ),
        case(
            "unknown method",
            request(json!(12), "no/such/method", json!({})),
            Error(NOT_FOUND, json!(12)),
        ),
        case(
            "very long method",
            request(json!(13), &"m".repeat(5000), json!({})),
            Error(NOT_FOUND, json!(13)),
        ),
        case(
            "unknown notification",
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}",
            Silence,
        ),
        case(
            "response to nothing",
            "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}",
            Silence,
        ),
        case(
            "error to nothing",
            "{\"jsonrpc\":\"2.0\",\"id\":98,\"error\":{\"code\":1,\"message\":\"x\"}}",
            Silence,
        ),
        case(
            "cancel of nothing",
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":12345}}",
            Silence,
        ),
        case(
            "progress from client",
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}",
            Silence,
        ),
        case("empty line", "", Silence),
        case("blank line", "   \t ", Silence),
        case(
            "extra fields",
            "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"ping\",\"extra\":{\"a\":1}}",
            Result(json!(14)),
        ),
        case(
            "call: params a string",
            request(json!(15), "tools/call", json!("x")),
            Error(INVALID_PARAMS, json!(15)),
        ),
        case(
            "call: params null",
            request(json!(16), "tools/call", Value::Null),
            Error(INVALID_PARAMS, json!(16)),
        ),
        case(
            "call: no name",
            request(json!(17), "tools/call", json!({"arguments": {}})),
            Error(INVALID_PARAMS, json!(17)),
        ),
        case(
            "call: name a number",
            request(json!(18), "tools/call", json!({"name": 42})),
            Error(INVALID_PARAMS, json!(18)),
        ),
        case(
            "call: arguments an array",
            request(
                json!(19),
                "tools/call",
                json!({"name": "probe__echo", "arguments": [1]}),
            ),
            Error(INVALID_PARAMS, json!(19)),
        ),
        case(
            "call: unknown tool",
            request(json!(20), "tools/call", json!({"name": "no_such_tool"})),
            Error(INVALID_PARAMS, json!(20)),
        ),
        case(
            "call: argument of the wrong type",
            request(
                json!(21),
                "tools/call",
                json!({"name": "probe__echo", "arguments": {"text": 5}}),
            ),
            Error(INVALID_PARAMS, json!(21)),
        ),
        case(
            "call: missing required argument",
            request(
                json!(22),
                "tools/call",
                json!({"name": "probe__echo", "arguments": {}}),
            ),
            Error(INVALID_PARAMS, json!(22)),
        ),
        case(
            "call: unknown argument",
            request(
                json!(23),
                "tools/call",
                json!({"name": "search", "arguments": {"query": "x", "bogus": 1}}),
            ),
            Error(INVALID_PARAMS, json!(23)),
        ),
        case(
            "call: empty name",
            request(json!(24), "tools/call", json!({"name": ""})),
            Error(INVALID_PARAMS, json!(24)),
        ),
        case(
            "read: no uri",
            request(json!(25), "resources/read", json!({})),
            Error(INVALID_PARAMS, json!(25)),
        ),
        case(
            "read: unknown uri",
            request(json!(26), "resources/read", json!({"uri": "nowhere://x"})),
            Error(RESOURCE_NOT_FOUND, json!(26)),
        ),
        case(
            "read: uri a number",
            request(json!(27), "resources/read", json!({"uri": 7})),
            Error(INVALID_PARAMS, json!(27)),
        ),
        case(
            "prompt: no name",
            request(json!(28), "prompts/get", json!({})),
            Error(INVALID_PARAMS, json!(28)),
        ),
        case(
            "prompt: unknown",
            request(json!(29), "prompts/get", json!({"name": "no_such_prompt"})),
            Error(INVALID_PARAMS, json!(29)),
        ),
        case(
            "complete: bad ref",
            request(
                json!(30),
                "completion/complete",
                json!({"ref": {"type": "ref/nothing"}, "argument": {"name": "a", "value": "b"}}),
            ),
            Error(INVALID_PARAMS, json!(30)),
        ),
        case(
            "complete: unknown prompt",
            request(
                json!(31),
                "completion/complete",
                json!({"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "a", "value": "b"}}),
            ),
            Error(INVALID_PARAMS, json!(31)),
        ),
        case(
            "setLevel: bad level",
            request(json!(32), "logging/setLevel", json!({"level": "loud"})),
            Error(INVALID_PARAMS, json!(32)),
        ),
        case(
            "list: params a number",
            request(json!(33), "tools/list", json!(5)),
            Error(INVALID_PARAMS, json!(33)),
        ),
        case(
            "subscribe: unknown uri",
            request(
                json!(34),
                "resources/subscribe",
                json!({"uri": "nowhere://x"}),
            ),
            Error(RESOURCE_NOT_FOUND, json!(34)),
        ),
        case(
            "string id request",
            request(json!("abc"), "tools/list", json!({})),
            Result(json!("abc")),
        ),
    ]
}

fn summary(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.chars().take(80).collect()
}

#[tokio::test]
async fn malformed_input_over_stdio_gets_precise_errors_and_the_server_keeps_serving() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n");
    home.install(Plugin::Probe);
    let mut raw = Raw::spawn(&home);
    raw.initialize().await;
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for (n, case) in cases.iter().enumerate() {
        raw.send_bytes(&case.line).await;
        match &case.expect {
            Expect::Error(code, id) => {
                let answer = raw.response_to(id).await;
                assert_eq!(
                    answer["error"]["code"],
                    json!(code),
                    "case {:?} ({}): {answer}",
                    case.name,
                    summary(&case.line)
                );
                assert!(
                    answer["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "{answer}"
                );
            }
            Expect::Result(id) => {
                let answer = raw.response_to(id).await;
                assert!(
                    answer["result"].is_object(),
                    "case {:?}: {answer}",
                    case.name
                );
            }
            Expect::Silence => {}
        }
        // Still serving; for the silent cases, nothing else came before the ping's answer.
        let ping_id = json!(format!("ping-{n}"));
        raw.send(json!({"jsonrpc": "2.0", "id": ping_id, "method": "ping"}))
            .await;
        let pong = raw.next().await;
        if matches!(case.expect, Expect::Silence) {
            assert_eq!(
                pong["id"], ping_id,
                "case {:?} answered something: {pong}",
                case.name
            );
        } else if pong["id"] != ping_id {
            let pong = raw.response_to(&ping_id).await;
            assert_eq!(pong["result"], json!({}));
        }
    }

    // A line over the size limit (16 MiB) is refused, skipped to its end, and forgotten.
    let mut huge = b"{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"ping\",\"pad\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 17 * 1024 * 1024));
    huge.extend_from_slice(b"\"}");
    raw.send_bytes(&huge).await;
    let refused = raw.response_to(&Value::Null).await;
    assert_eq!(
        refused["error"]["code"],
        json!(INVALID_REQUEST),
        "{refused}"
    );
    raw.send(json!({"jsonrpc": "2.0", "id": 78, "method": "ping"}))
        .await;
    assert_eq!(raw.response(78).await["result"], json!({}));

    // Two requests with one id: the first is answered; the second too, or, while the first
    // is still being answered, refused as a duplicate. Never silence.
    raw.send(json!({"jsonrpc": "2.0", "id": 79, "method": "tools/list"}))
        .await;
    raw.send(json!({"jsonrpc": "2.0", "id": 79, "method": "tools/list"}))
        .await;
    let answers = [raw.response(79).await, raw.response(79).await];
    assert!(
        answers.iter().any(|a| a["result"].is_object()),
        "{answers:?}"
    );
    for answer in &answers {
        assert!(
            answer["result"].is_object() || answer["error"]["code"] == json!(INVALID_REQUEST),
            "{answer}"
        );
    }
    assert!(raw.finish().await.success());
}

/// A minimal HTTP/1.1 exchange; returns (status, body).
fn http(port: u16, host: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn malformed_input_over_http_is_refused_and_the_server_keeps_serving() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n");
    home.install(Plugin::Probe);
    let token = "hostile-test-token-0123456789";
    let server = home.serve_http(&["--token", token]);
    let port = server.port;
    let host = format!("127.0.0.1:{port}");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "h", "version": "0"}}})
    .to_string();
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}).to_string();

    let (status, _) = http(port, &host, None, init.as_bytes());
    assert_eq!(status, 401, "no token");
    let (status, _) = http(
        port,
        &host,
        Some("wrong-token-wrong-token"),
        init.as_bytes(),
    );
    assert_eq!(status, 401, "wrong token");
    let (status, _) = http(port, "evil.example", Some(token), init.as_bytes());
    assert!((400..500).contains(&status), "foreign Host got {status}");
    for bad in [
        &b"garbage"[..],
        b"[]",
        b"{\"jsonrpc\":\"2.0\"}",
        b"\xff\xfe",
        b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":",
    ] {
        let (status, body) = http(port, &host, Some(token), bad);
        assert!(
            (400..500).contains(&status),
            "{:?} got {status}: {body}",
            String::from_utf8_lossy(bad)
        );
    }
    // Still serving: a stateless ping and a fresh session both answer.
    let (status, body) = http(port, &host, Some(token), init.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("switchboard"), "{body}");
    let health = {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(
                format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    };
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"ok\""),
        "{health}"
    );
    let _ = ping;
    drop(server);
}
