//! What approvals leave behind and show: a question's readable text is kept only while it is
//! open (unless `audit.store_arguments`), `audit purge` deletes old rows, a question whose
//! process was killed is marked and then expired, and the question a person reads cannot be
//! forged by the arguments.

use serde_json::{Value, json};

use crate::approvals::{call_in_background, home, pending};
use crate::support::{Home, connect, stdout, text_of};

/// The approval row `id` as stored: (status, summary, arguments).
fn stored(home: &Home, id: &str) -> (String, String, Option<String>) {
    let db = rusqlite::Connection::open(home.path().join("state").join("switchboard.db")).unwrap();
    db.query_row(
        "SELECT status, summary, arguments FROM approvals WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

async fn approve_one(home: &Home, text: &str) -> String {
    let (client, _e) = connect(home).await;
    let waiting = call_in_background(&client, "probe__echo", json!({"text": text}));
    let ids = pending(home, 1).await;
    let listed = stdout(&home.run(&["approvals", "list"]));
    assert!(listed.contains("probe__echo"), "{listed}");
    assert!(
        home.run(&["approvals", "approve", &ids[0]])
            .status
            .success()
    );
    let result = waiting.await.unwrap().expect("answered");
    assert_eq!(text_of(&result), text);
    client.cancel().await.ok();
    ids[0].clone()
}

#[tokio::test]
async fn a_settled_question_keeps_only_its_digest_unless_arguments_are_stored() {
    let forgetful = home("approvals:\n  timeout: 20s\nconnectors:\n  probe: {enabled: true}\n");
    let id = approve_one(&forgetful, "my secret note").await;
    let (status, summary, arguments) = stored(&forgetful, &id);
    assert_eq!(status, "consumed");
    assert_eq!((summary.as_str(), arguments), ("", None));

    let keeping = home(
        "audit: {store_arguments: true}\napprovals:\n  timeout: 20s\nconnectors:\n  probe: {enabled: true}\n",
    );
    let id = approve_one(&keeping, "kept on purpose").await;
    let (_, summary, arguments) = stored(&keeping, &id);
    assert!(summary.contains("kept on purpose"), "{summary}");
    assert!(arguments.unwrap().contains("kept on purpose"));
}

#[tokio::test]
async fn audit_purge_deletes_what_is_older_than_asked() {
    let home = home("approvals:\n  timeout: 20s\nconnectors:\n  probe: {enabled: true}\n");
    approve_one(&home, "one").await;
    let rows = |home: &Home| {
        stdout(&home.run(&["audit", "--json", "--limit", "500"]))
            .lines()
            .count()
    };
    assert!(rows(&home) > 0);
    let refused = home.run(&["audit", "purge", "--before", "last tuesday"]);
    assert!(!refused.status.success());
    assert!(
        crate::support::stderr(&refused).contains("--before takes an age"),
        "{}",
        crate::support::stderr(&refused)
    );
    let kept = home.run(&["audit", "purge", "--before", "30d"]);
    assert!(kept.status.success());
    assert!(stdout(&kept).contains("0 audit rows"), "{}", stdout(&kept));
    let purged = home.run(&["audit", "purge", "--before", "0s"]);
    assert!(purged.status.success(), "{}", stdout(&purged));
    assert_eq!(rows(&home), 0, "{}", stdout(&purged));
}

#[tokio::test]
async fn arguments_cannot_pose_as_other_arguments_in_the_question() {
    let home = home("approvals:\n  timeout: 20s\nconnectors:\n  probe: {enabled: true}\n");
    let (client, _e) = connect(&home).await;
    let forged = "hello\n\ntext = \"harmless\"\n\u{202E}txt.exe";
    let waiting = call_in_background(&client, "probe__echo", json!({"text": forged}));
    let ids = pending(&home, 1).await;
    let listed = stdout(&home.run(&["approvals", "list", "--json"]));
    let row: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    let question = row["summary"].as_str().unwrap();
    // The real argument is one line; the forged one sits behind the gutter, the bidi
    // override shown escaped.
    assert_eq!(
        question
            .lines()
            .filter(|l| l.starts_with("  text = "))
            .count(),
        1,
        "{question}"
    );
    assert!(question.contains("  text = 4 lines:"), "{question}");
    assert!(question.contains("│ text = \"harmless\""), "{question}");
    assert!(question.contains("\\u{202E}txt.exe"), "{question}");
    assert!(!question.contains('\u{202E}'), "{question}");
    assert!(home.run(&["approvals", "deny", &ids[0]]).status.success());
    let refused = waiting.await.unwrap().expect("answered");
    assert_eq!(refused.is_error, Some(true));
    client.cancel().await.ok();
}

#[cfg(unix)]
#[tokio::test]
async fn a_question_whose_process_was_killed_is_marked_and_expires_at_the_next_start() {
    let home = home("approvals:\n  timeout: 20m\nconnectors:\n  probe: {enabled: true}\n");
    let command = {
        let mut command = tokio::process::Command::new(crate::support::binary());
        command.arg("serve");
        command
    };
    let (client, _e, pid) = crate::support::client::connect_command(
        &home,
        command,
        crate::support::client::Options::default(),
    )
    .await;
    let _waiting = call_in_background(&client, "probe__echo", json!({"text": "orphan"}));
    let ids = pending(&home, 1).await;
    let pid = pid.expect("the server's pid") as libc::pid_t;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    // The transport reaps its child when the client goes.
    client.cancel().await.ok();
    let listed = stdout(&home.run(&["approvals", "list"]));
    assert!(
        listed.contains("the switchboard process that asked has ended"),
        "{listed}"
    );
    // The next switchboard to start expires it: nobody can ever take its answer.
    let (next, _e2) = connect(&home).await;
    let path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let home = Home::at(&path);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let listed = stdout(&home.run(&["approvals", "list", "--json"]));
            if listed.trim().is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still pending: {listed}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    assert!(
        !home
            .run(&["approvals", "approve", &ids[0]])
            .status
            .success()
    );
    next.cancel().await.ok();
}
