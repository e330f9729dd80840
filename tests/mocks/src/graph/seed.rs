//! The seeded mailbox of Megan Bowen: folders and twelve messages as Graph's `message` and
//! `mailFolder` resources describe them. Five mention a budget (the word the end-to-end test
//! searches for); "Q3 budget review" is HTML with an attachment.

use serde_json::{Value, json};

/// A file attached to a message.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub is_inline: bool,
}

/// One message.
#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    /// The id of its folder.
    pub folder: String,
    pub subject: String,
    pub from: (String, String),
    pub to: Vec<(String, String)>,
    pub cc: Vec<(String, String)>,
    /// RFC 3339, UTC.
    pub received: String,
    /// `html` or `text`.
    pub content_type: String,
    pub body: String,
    pub preview: String,
    pub attachments: Vec<Attachment>,
    pub is_draft: bool,
    pub internet_message_id: String,
}

/// A mail folder.
#[derive(Clone, Debug)]
pub struct Folder {
    pub id: String,
    /// The well-known name Graph also accepts in place of the id (`inbox`), if any.
    pub well_known: Option<&'static str>,
    pub display_name: String,
    pub parent: String,
    pub children: u32,
}

fn person(name: &str, address: &str) -> Value {
    json!({"emailAddress": {"name": name, "address": address}})
}

impl Message {
    /// The resource as Graph serves it, every property present.
    pub fn to_json(&self) -> Value {
        json!({
            "@odata.etag": format!("W/\"CQAAABYAAAD{}\"", self.id.len()),
            "id": self.id,
            "createdDateTime": self.received,
            "lastModifiedDateTime": self.received,
            "receivedDateTime": self.received,
            "sentDateTime": self.received,
            "hasAttachments": self.attachments.iter().any(|a| !a.is_inline),
            "internetMessageId": self.internet_message_id,
            "subject": self.subject,
            "bodyPreview": self.preview,
            "importance": "normal",
            "parentFolderId": self.folder,
            "conversationId": format!("AAQkAGI2TG93AAA{}=", self.id.len()),
            "isRead": true,
            "isDraft": self.is_draft,
            "webLink": format!(
                "https://outlook.office365.com/owa/?ItemID={}&exvsurl=1&viewmodel=ReadMessageItem",
                self.id.replace('=', "%3D")
            ),
            "body": {"contentType": self.content_type, "content": self.body},
            "sender": person(&self.from.0, &self.from.1),
            "from": person(&self.from.0, &self.from.1),
            "toRecipients": self.to.iter().map(|(n, a)| person(n, a)).collect::<Vec<_>>(),
            "ccRecipients": self.cc.iter().map(|(n, a)| person(n, a)).collect::<Vec<_>>(),
            "bccRecipients": [],
            "replyTo": [],
        })
    }

    /// The text `$search` matches against, by property.
    pub fn searchable(&self, property: Option<&str>) -> String {
        let from = format!("{} {}", self.from.0, self.from.1);
        match property {
            Some("subject") => self.subject.clone(),
            Some("from") => from,
            Some("body") => self.body.clone(),
            Some("attachment") => self
                .attachments
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            _ => format!("{} {} {from}", self.subject, self.body),
        }
    }
}

impl Attachment {
    pub fn to_json(&self) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.fileAttachment",
            "@odata.mediaContentType": self.content_type,
            "id": self.id,
            "lastModifiedDateTime": "2026-11-27T09:12:00Z",
            "name": self.name,
            "contentType": self.content_type,
            "size": self.size,
            "isInline": self.is_inline,
        })
    }
}

impl Folder {
    pub fn to_json(&self, messages: &[Message]) -> Value {
        let total = messages.iter().filter(|m| m.folder == self.id).count();
        json!({
            "id": self.id,
            "displayName": self.display_name,
            "parentFolderId": self.parent,
            "childFolderCount": self.children,
            "unreadItemCount": 0,
            "totalItemCount": total,
            "sizeInBytes": total * 14_336,
            "isHidden": false,
        })
    }
}

const ROOT: &str =
    "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEIAAA=";
pub const INBOX: &str =
    "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEMAAA=";
pub const DRAFTS: &str =
    "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEPAAA=";
pub const SENT: &str =
    "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEJAAA=";
pub const ARCHIVE: &str =
    "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAFeAAA=";
pub const PROJECTS: &str =
    "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAGqAAA=";

pub fn folders() -> Vec<Folder> {
    let folder = |id: &str, well_known, name: &str, parent: &str, children| Folder {
        id: id.to_string(),
        well_known,
        display_name: name.to_string(),
        parent: parent.to_string(),
        children,
    };
    vec![
        folder(INBOX, Some("inbox"), "Inbox", ROOT, 1),
        folder(DRAFTS, Some("drafts"), "Drafts", ROOT, 0),
        folder(SENT, Some("sentitems"), "Sent Items", ROOT, 0),
        folder(
            "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEKAAA=",
            Some("deleteditems"),
            "Deleted Items",
            ROOT,
            0,
        ),
        folder(ARCHIVE, Some("archive"), "Archive", ROOT, 0),
        folder(
            "AAMkAGI2TG93AAEuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEiAAA=",
            Some("junkemail"),
            "Junk Email",
            ROOT,
            0,
        ),
        folder(PROJECTS, None, "Projects", INBOX, 0),
    ]
}

const ADELE: (&str, &str) = ("Adele Vance", "adele@contoso.example");
const ALEX: (&str, &str) = ("Alex Wilber", "alex@contoso.example");
const DIEGO: (&str, &str) = ("Diego Siciliani", "diego@contoso.example");
const LYNNE: (&str, &str) = ("Lynne Robbins", "lynne@contoso.example");
const MEGAN: (&str, &str) = ("Megan Bowen", super::MAILBOX);

/// The HTML message's id (it has the attachment).
pub const BUDGET_REVIEW: &str = "AAMkAGI2TG93AAABudgetReview-Q3_0001AAA=";

const REVIEW_HTML: &str = "<html><head><style>p { color: #333 }</style>\
<script>trackOpen()</script><title>Q3</title></head><body>\
<h1>Q3 budget review</h1><p>Hi Megan,</p>\
<p>Attached is the Q3 budget. Spending is 4% &lt; plan &amp; travel is\n   over by &euro;12,000.</p>\
<ul><li>Marketing: on track</li><li>Travel: over</li></ul>\
<p>Details on the <a href=\"https://contoso.sharepoint.example/sites/finance/q3\">finance site</a>.</p>\
<p>Thanks,<br>Adele</p></body></html>";

/// The twelve messages, newest first.
pub fn messages() -> Vec<Message> {
    let text =
        |id: &str, folder: &str, subject: &str, from: (&str, &str), received: &str, body: &str| {
            Message {
                id: id.to_string(),
                folder: folder.to_string(),
                subject: subject.to_string(),
                from: (from.0.to_string(), from.1.to_string()),
                to: vec![(MEGAN.0.to_string(), MEGAN.1.to_string())],
                cc: Vec::new(),
                received: received.to_string(),
                content_type: "text".to_string(),
                body: body.to_string(),
                preview: body.chars().take(255).collect(),
                attachments: Vec::new(),
                is_draft: false,
                internet_message_id: format!(
                    "<{}@contoso.example>",
                    id.len() * 7919 + received.len()
                ),
            }
        };
    let mut review = text(
        BUDGET_REVIEW,
        INBOX,
        "Q3 budget review",
        ADELE,
        "2026-11-30T16:05:00Z",
        REVIEW_HTML,
    );
    review.content_type = "html".to_string();
    review.preview =
        "Hi Megan, Attached is the Q3 budget. Spending is 4% < plan & travel is over by €12,000."
            .to_string();
    review.cc = vec![(ALEX.0.to_string(), ALEX.1.to_string())];
    review.internet_message_id = "<q3-budget-review@contoso.example>".to_string();
    review.attachments = vec![Attachment {
        id: "AAMkAGI2TG93AAABEgAQAKQ3budget=".to_string(),
        name: "Q3-budget.xlsx".to_string(),
        content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            .to_string(),
        size: 48_213,
        is_inline: false,
    }];
    vec![
        review,
        text(
            "AAMkAGI2TG93AAAMarketing-Budget_0002AAA=",
            INBOX,
            "Re: Marketing budget for the launch",
            ALEX,
            "2026-11-29T10:41:00Z",
            "Megan, the marketing budget for the launch is approved at $85k. Please keep the agency spend under half of it.",
        ),
        text(
            "AAMkAGI2TG93AAATravel-Approval_0003AAA=",
            INBOX,
            "Travel budget approval",
            DIEGO,
            "2026-11-28T08:15:00Z",
            "Can you approve my travel budget for the Berlin trade fair? Flights and hotel come to 2,300 EUR.",
        ),
        text(
            "AAMkAGI2TG93AAAOffsite-Agenda_0004AAA=",
            PROJECTS,
            "Team offsite agenda",
            LYNNE,
            "2026-11-27T14:00:00Z",
            "Agenda for the offsite: morning strategy, afternoon workshops. The catering budget covers lunch and dinner.",
        ),
        text(
            "AAMkAGI2TG93AAALunch-Friday_0005AAA=",
            INBOX,
            "Lunch on Friday?",
            DIEGO,
            "2026-11-26T12:30:00Z",
            "Anyone up for the new ramen place on Friday? I can book for six.",
        ),
        text(
            "AAMkAGI2TG93AAAWeekly-Digest_0006AAA=",
            INBOX,
            "Your weekly digest",
            ("Contoso Intranet", "intranet@contoso.example"),
            "2026-11-25T06:00:00Z",
            "Top stories this week: new parking rules, the holiday party, and the IT security quiz.",
        ),
        text(
            "AAMkAGI2TG93AAAFabrikam-Renewal_0007AAA=",
            INBOX,
            "Contract renewal - Fabrikam",
            ("Pradeep Gupta", "pradeep@fabrikam.example"),
            "2026-11-24T09:20:00Z",
            "Our contract renews on 1 January. Please send the signed copy by 15 December.",
        ),
        text(
            "AAMkAGI2TG93AAARetro-Notes_0008AAA=",
            PROJECTS,
            "Sprint retrospective notes",
            LYNNE,
            "2026-11-21T16:45:00Z",
            "What went well: releases on time. What to improve: fewer late changes to the scope.",
        ),
        text(
            "AAMkAGI2TG93AAABudget-Freeze_0009AAA=",
            ARCHIVE,
            "Budget freeze FY27",
            ADELE,
            "2026-11-20T11:00:00Z",
            "Finance announced a budget freeze for FY27 hiring. New requisitions need the CFO's approval.",
        ),
        text(
            "AAMkAGI2TG93AAAPassword-Expiry_0010AAA=",
            INBOX,
            "Password expiry notice",
            ("IT Helpdesk", "helpdesk@contoso.example"),
            "2026-11-19T07:00:00Z",
            "Your password expires in 7 days. Change it at https://aka.example/pw before it does.",
        ),
        text(
            "AAMkAGI2TG93AAAOffsite-Photos_0011AAA=",
            INBOX,
            "Photos from the offsite",
            LYNNE,
            "2026-11-18T18:10:00Z",
            "The photos are on the team site. Thanks everyone for a great two days!",
        ),
        text(
            "AAMkAGI2TG93AAAInvoice-4471_0012AAA=",
            INBOX,
            "Invoice 4471 from Contoso Cleaning",
            ("Contoso Cleaning", "billing@cleaning.example"),
            "2026-11-17T13:25:00Z",
            "Invoice 4471 for November office cleaning, 1,180.00 USD, due in 30 days.",
        ),
    ]
}
