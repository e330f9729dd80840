//! The approval page: the inbox in a browser on 127.0.0.1, so the person can approve or deny
//! with a click. `serve` starts it on demand when the first question waits (and names it in
//! the notification and the call's answer); `switchboard approvals ui` serves it by itself
//! (the CLI prints its address).
//!
//! Only this machine can reach it (it binds the loopback address), only a browser given the
//! URL can use it (a random token is part of every path), and a page fetched through another
//! host name is refused (a DNS-rebinding guard on the `Host` header). The HTTP it speaks is
//! the small subset a browser form needs: `GET` the list, `POST` a decision. The list updates
//! itself in place, so a choice being made is never reset.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::inbox;
use crate::state::State;
use crate::state::approvals::{ApprovalRow, Decided};

/// The largest request head or body accepted.
const MAX_REQUEST: usize = 16 * 1024;

/// A page being served.
pub struct Running {
    /// Its address, secret path included.
    pub url: String,
}

/// Start serving the page on 127.0.0.1:`port` (0: any free port) in the background.
/// `keep_text` keeps a decided question's readable text (`audit.store_arguments`).
pub async fn start(state: State, port: u16, keep_text: bool) -> Result<Running> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let port = listener.local_addr()?.port();
    let token = token();
    let url = format!("http://127.0.0.1:{port}/{token}/");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            let token = token.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, &state, &token, port, keep_text).await {
                    tracing::debug!(error = %e, "approval page request failed");
                }
            });
        }
    });
    Ok(Running { url })
}

/// The page of a running `serve`, started the first time a question needs it.
pub struct OnDemand {
    state: State,
    keep_text: bool,
    running: tokio::sync::OnceCell<Option<String>>,
}

impl OnDemand {
    /// A page over `state`'s inbox, not yet started.
    pub fn new(state: State, keep_text: bool) -> Self {
        Self {
            state,
            keep_text,
            running: tokio::sync::OnceCell::new(),
        }
    }

    /// The page's address, starting it if needed; `None` when it cannot be served.
    pub async fn url(&self) -> Option<String> {
        self.running
            .get_or_init(|| async {
                match start(self.state.clone(), 0, self.keep_text).await {
                    Ok(running) => {
                        tracing::info!(url = %running.url, "the approval page is being served");
                        Some(running.url)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot serve the approval page");
                        None
                    }
                }
            })
            .await
            .clone()
    }
}

fn token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Without OS randomness the page would be guessable: make it unusable instead.
        return inbox::new_id() + &inbox::new_id();
    }
    hex::encode(bytes)
}

/// Open `url` in the person's browser; `false` when no browser could be started.
pub fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    spawned.is_ok()
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Result<Option<Request>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_REQUEST {
            return Ok(None);
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return Ok(None);
    }
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    body.truncate(length);
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

async fn respond(stream: &mut TcpStream, status: &str, extra: &str, body: &str) -> Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

async fn handle(
    mut stream: TcpStream,
    state: &State,
    token: &str,
    port: u16,
    keep_text: bool,
) -> Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return respond(&mut stream, "400 Bad Request", "", "bad request").await;
    };
    let host = request
        .headers
        .get("host")
        .map(String::as_str)
        .unwrap_or("");
    let allowed = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    if !allowed.iter().any(|h| h == host) {
        return respond(&mut stream, "403 Forbidden", "", "wrong host").await;
    }
    let base = format!("/{token}/");
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    match (request.method.as_str(), path) {
        ("GET", path) if path == base => {
            let pending = state.pending_approvals().unwrap_or_default();
            let done = parse_form(query);
            respond(&mut stream, "200 OK", "", &render(&pending, &base, &done)).await
        }
        ("POST", path) if path == format!("{base}decide") => {
            let form = parse_form(&String::from_utf8_lossy(&request.body));
            let id = form.get("id").cloned().unwrap_or_default();
            let approve = form.get("action").map(String::as_str) == Some("approve");
            let remember = form
                .get("remember")
                .map(String::as_str)
                .filter(|r| *r == "session" || *r == "always");
            let answer = Decided {
                status: if approve { "approved" } else { "denied" },
                remember: remember.filter(|_| approve),
                decided_by: "the approval page",
                keep_text,
                card: None,
            };
            let decided =
                tokio::task::block_in_place(|| inbox::decide(state, &id, &answer)).unwrap_or(false);
            if !decided {
                tracing::info!(id = %id, "the approval page answered a question that was no longer waiting");
            }
            let outcome = match (decided, approve) {
                (false, _) => "gone",
                (true, true) => "approved",
                (true, false) => "denied",
            };
            let location = format!(
                "Location: {base}?id={}&outcome={outcome}\r\n",
                id.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            );
            respond(&mut stream, "303 See Other", &location, "").await
        }
        _ => respond(&mut stream, "404 Not Found", "", "not found").await,
    }
}

/// Decode `application/x-www-form-urlencoded`; a malformed escape is kept as written.
fn parse_form(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn render(pending: &[ApprovalRow], base: &str, done: &HashMap<String, String>) -> String {
    let mut items = String::new();
    for row in pending {
        let id = escape(&row.id);
        let whole = row
            .arguments
            .as_deref()
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .map(|json| {
                format!(
                    "<details><summary>The arguments in full</summary><pre class=\"whole\">{}</pre></details>",
                    escape(&super::values::escape(&json, false))
                )
            })
            .unwrap_or_default();
        items.push_str(&format!(
            r#"<li class="approval" id="approval-{id}">
<h2>{tool} <small>from {provider}</small></h2>
<pre class="question">{summary}</pre>{whole}
<p class="meta">asked {created}, expires {expires} (local time) &middot; id <code>{id}</code></p>{gone}
<form method="post" action="{base}decide">
<input type="hidden" name="id" value="{id}">
<fieldset><legend>If you approve</legend>
<label><input type="radio" name="remember" value="once" checked> just this call</label>
<label><input type="radio" name="remember" value="session"> this tool for the rest of this session (until this client disconnects)</label>
<label><input type="radio" name="remember" value="always"> this tool from now on (until its definition changes or you revoke it)</label>
</fieldset>
<button type="submit" name="action" value="approve" id="approve-{id}">Approve</button>
<button type="submit" name="action" value="deny" id="deny-{id}">Deny</button>
</form></li>
"#,
            tool = escape(&row.tool),
            provider = escape(&row.provider),
            summary = escape(&row.summary),
            gone = if inbox::orphaned(row) {
                "<p class=\"gone\">The switchboard process that asked has ended: nothing will run on a yes.</p>"
            } else {
                ""
            },
            created = escape(&crate::state::local_time(&row.created)),
            expires = escape(&crate::state::local_time(&row.expires)),
        ));
    }
    if items.is_empty() {
        items.push_str(
            "<li class=\"empty\" id=\"empty\">Nothing is waiting for your approval.</li>",
        );
    }
    let banner = match (done.get("id"), done.get("outcome").map(String::as_str)) {
        (Some(id), Some("approved")) => format!(
            "<p class=\"done\" id=\"done\">Approved <code>{}</code>: the call runs now (or when the assistant repeats it).</p>",
            escape(id)
        ),
        (Some(id), Some("denied")) => format!(
            "<p class=\"done\" id=\"done\">Denied <code>{}</code>: the call will not run.</p>",
            escape(id)
        ),
        (Some(id), Some(_)) => format!(
            "<p class=\"done\" id=\"done\"><code>{}</code> was no longer waiting (answered elsewhere, or expired).</p>",
            escape(id)
        ),
        _ => String::new(),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>switchboard approvals</title>
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
li{{list-style:none;border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}}
pre{{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;overflow-wrap:anywhere}} .meta{{color:#555}}
fieldset{{border:none;padding:0;margin:.5rem 0}} label{{display:block}} button{{margin-right:.5rem;padding:.3rem 1rem}}
.done{{background:#eef6ee;border:1px solid #9c9;padding:.5rem;border-radius:6px}}</style></head>
<body><h1>Calls waiting for your approval</h1>{banner}<ul id="approvals">{items}</ul>
<script>
// Keep the list current without reloading: questions that appear are added, answered or
// expired ones removed, and the ones on screen (with any choice being made) left alone.
setInterval(async () => {{
  try {{
    const response = await fetch(location.pathname, {{cache: "no-store"}});
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const list = document.getElementById("approvals");
    const next = fresh.getElementById("approvals");
    const ids = new Set([...next.children].map(li => li.id));
    for (const li of [...list.children]) if (!ids.has(li.id)) li.remove();
    for (const li of next.children) if (!document.getElementById(li.id)) list.appendChild(document.importNode(li, true));
  }} catch (e) {{}}
}}, 2000);
</script></body></html>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let form = parse_form("id=ab12&action=approve&remember=session&note=a+b%21%zz");
        assert_eq!(form["id"], "ab12");
        assert_eq!(form["action"], "approve");
        assert_eq!(form["note"], "a b!%zz");
    }

    #[test]
    fn rendering_escapes() {
        let page = render(&[], "/t/", &HashMap::new());
        assert!(page.contains("Nothing is waiting"));
        assert_eq!(escape("<b>\"x\"</b>"), "&lt;b&gt;&quot;x&quot;&lt;/b&gt;");
    }
}
