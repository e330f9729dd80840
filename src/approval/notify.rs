//! Desktop notifications: telling the person that a question waits, on the desktop they are
//! looking at. Linux: `org.freedesktop.Notifications` on the session bus; macOS: Notification
//! Center (through `osascript`); Windows: a toast (through PowerShell).
//!
//! Best effort and never in the way: sent from a task of its own with a time limit, a failure
//! (no session bus, no notification daemon, a headless machine) is logged and nothing else.

use std::time::Duration;

/// How long sending one notification may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Show `title` and `body` (plain text) to the person, in the background.
pub fn send(title: String, body: String) {
    tokio::spawn(async move {
        match tokio::time::timeout(SEND_TIMEOUT, deliver(&title, &body)).await {
            Ok(Ok(())) => tracing::debug!(%title, "desktop notification sent"),
            Ok(Err(e)) => {
                tracing::info!(error = %e, "no desktop notification (the approval page and the call's answer still say where to answer)")
            }
            Err(_) => {
                tracing::info!("the desktop notification was not delivered within {SEND_TIMEOUT:?}")
            }
        }
    });
}

#[cfg(all(unix, not(target_os = "macos")))]
async fn deliver(title: &str, body: &str) -> Result<(), String> {
    use std::collections::HashMap;
    let connection = zbus::Connection::session()
        .await
        .map_err(|e| format!("no session bus: {e}"))?;
    let mut hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    hints.insert("urgency", zbus::zvariant::Value::U8(2));
    hints.insert("desktop-entry", zbus::zvariant::Value::from("switchboard"));
    let actions: Vec<&str> = Vec::new();
    connection
        .call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            // app name, replaces id, icon, summary, body, actions, hints, timeout (0: stays)
            &(
                "switchboard",
                0u32,
                "dialog-question",
                title,
                body,
                actions,
                hints,
                0i32,
            ),
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("the notification service refused: {e}"))
}

#[cfg(target_os = "macos")]
async fn deliver(title: &str, body: &str) -> Result<(), String> {
    // AppleScript string literals: backslash and double quote are the only escapes.
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let script = format!(
        "display notification {} with title {}",
        quote(body),
        quote(title)
    );
    run("osascript", &["-e", &script]).await
}

#[cfg(windows)]
async fn deliver(title: &str, body: &str) -> Result<(), String> {
    // The texts go in as environment variables, never into the script's source.
    let script = "$t=[Windows.UI.Notifications.ToastNotificationManager,Windows.UI.Notifications,ContentType=WindowsRuntime];\
        $x=[Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02);\
        $n=$x.GetElementsByTagName('text');\
        $n.Item(0).AppendChild($x.CreateTextNode($env:SB_TITLE))|Out-Null;\
        $n.Item(1).AppendChild($x.CreateTextNode($env:SB_BODY))|Out-Null;\
        [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('switchboard').Show([Windows.UI.Notifications.ToastNotification]::new($x))";
    let status = tokio::process::Command::new("powershell")
        .args(["-NoProfile", "-NonInteractive", "-Command", script])
        .env("SB_TITLE", title)
        .env("SB_BODY", body)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run powershell: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("powershell exited with {status}"))
}

#[cfg(target_os = "macos")]
async fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("{program} exited with {status}"))
}
