//! Writing mail, offered only when the settings ask: a draft saved in Drafts (`POST
//! /messages`, `drafts: true`, `Mail.ReadWrite`) and a message sent (`POST /sendMail`,
//! `send: true`, `Mail.Send`). Recipients are checked to be plain addresses before anything
//! is sent; the body goes as text, never as HTML the model wrote.

use switchboard_plugin_api::Call;

use crate::api::Api;
use crate::error::{MailError, shown};
use crate::wire::{ItemBody, Message, NewMessage, Recipient, SendMail};

/// One plain address: `local@domain`, nothing a header or a list could be built from.
fn address(text: &str) -> Result<Recipient, MailError> {
    let text = text.trim();
    let plain = text.len() <= 320
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ",;<>\"()[]\\".contains(c))
        && matches!(text.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if plain {
        Ok(Recipient::to(text))
    } else {
        Err(MailError::Input(format!(
            "{} is not an email address such as adele@contoso.com (one address per entry)",
            shown(text)
        )))
    }
}

/// The message to write, its recipients checked.
pub fn new_message(
    to: &[String],
    cc: &[String],
    subject: &str,
    body: &str,
) -> Result<NewMessage, MailError> {
    if to.is_empty() {
        return Err(MailError::Input(
            "give at least one recipient in `to`".to_string(),
        ));
    }
    Ok(NewMessage {
        subject: subject.to_string(),
        body: ItemBody {
            content_type: "Text".to_string(),
            content: body.to_string(),
        },
        to_recipients: to.iter().map(|a| address(a)).collect::<Result<_, _>>()?,
        cc_recipients: cc.iter().map(|a| address(a)).collect::<Result<_, _>>()?,
    })
}

/// Save `message` as a draft; the draft as Graph made it (`201 Created`).
pub fn draft(api: &Api, message: &NewMessage, call: &Call) -> Result<Message, MailError> {
    let url = format!("{}/messages", api.root());
    api.post(&url, message, "saving the draft", call)?
        .json()
        .map_err(|e| api.http_failure(e, "saving the draft"))
}

/// Send `message`, keeping a copy in Sent Items (`202 Accepted`).
pub fn send(api: &Api, message: NewMessage, call: &Call) -> Result<(), MailError> {
    let url = format!("{}/sendMail", api.root());
    let body = SendMail {
        message,
        save_to_sent_items: true,
    };
    api.post(&url, &body, "sending the mail", call).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_addresses_are_taken() {
        assert!(new_message(&["adele@contoso.example".into()], &[], "s", "b").is_ok());
        for bad in [
            "adele",
            "adele@contoso",
            "a@b.example, c@d.example",
            "Adele <adele@contoso.example>",
            "a@b.example\r\nBcc: x@y.example",
            "a@@b.example",
            "@b.example",
        ] {
            let error = new_message(&[bad.into()], &[], "s", "b").unwrap_err();
            assert!(
                error.message().contains("not an email address"),
                "{bad:?}: {error}"
            );
        }
        assert!(new_message(&[], &[], "s", "b").is_err());
        assert!(new_message(&["a@b.example".into()], &["bad".into()], "s", "b").is_err());
    }
}
