//! The connector's settings (its section of `config.yaml`), with the JSON Schema the host
//! validates them by derived from the type, and the checks the schema cannot say: which
//! settings go together, and that a token is never sent in the clear to a remote host.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Settings;

/// Whom the app's client credentials token acts for.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// The enterprise's service account (subject_id is the enterprise id).
    Enterprise,
    /// A managed user (subject_id is the user id; the app needs "Generate user access tokens").
    User,
}

impl SubjectType {
    /// As Box's token endpoint takes it (`box_subject_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::User => "user",
        }
    }
}

/// The Box connector's settings, every one with a default.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Box's API (change it for a proxy or a stand-in).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Box's upload API, where upload_file sends files.
    #[serde(default = "default_upload_url")]
    pub upload_url: String,
    /// Where Box's sign-in page lives (the browser opens `<auth_url>/authorize`).
    #[serde(default = "default_auth_url")]
    pub auth_url: String,
    /// Box's token endpoint (sign-in, renewal, client credentials; `/revoke` beside it).
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// Where links to files point; unset, it is derived from api_url (api.box.com gives
    /// https://app.box.com).
    #[serde(default)]
    pub web_url: Option<String>,
    /// The Client ID of your Box app (Developer Console → your app → Configuration), for the
    /// browser sign-in and the client credentials grant.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Sign the app in by itself with its client credentials, as `enterprise` (its service
    /// account) or `user` (a managed user); unset, a person signs in in the browser.
    #[serde(default)]
    pub subject_type: Option<SubjectType>,
    /// The enterprise id (subject_type enterprise) or user id (subject_type user).
    #[serde(default)]
    pub subject_id: Option<String>,
    /// Offer upload_file and ask Box for write access when signing in (root_readwrite
    /// instead of root_readonly).
    #[serde(default)]
    pub writable: bool,
    /// The most hits a search returns, whatever the caller asks.
    #[serde(default = "default_search_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub search_limit: u32,
    /// Entries asked of Box per page of a search (Box allows 200 at most).
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1, max = 200))]
    pub page_size: u32,
    /// The largest file read as text, in bytes; a larger one is described, not downloaded.
    #[serde(default = "default_max_read_bytes")]
    #[schemars(range(min = 1))]
    pub max_read_bytes: u64,
    /// How long, in seconds in all, a read waits for a file Box is still preparing (202).
    #[serde(default = "default_download_wait")]
    pub download_wait_seconds: u64,
    /// Open the sign-in page in the browser (the address is shown either way).
    #[serde(default = "default_true")]
    pub open_browser: bool,
    /// How long the browser sign-in waits for the person, in minutes.
    #[serde(default = "default_sign_in_minutes")]
    #[schemars(range(min = 1))]
    pub sign_in_minutes: u64,
    /// The port of the browser sign-in's redirect on 127.0.0.1, for a Box app that wants its
    /// redirect URI exactly: register `http://127.0.0.1:<port>/callback` in the app (Developer
    /// Console → your app → Configuration → Redirect URIs). Unset, the system picks a port.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub redirect_port: Option<u16>,
}

fn default_api_url() -> String {
    "https://api.box.com/2.0".to_string()
}
fn default_upload_url() -> String {
    "https://upload.box.com/api/2.0".to_string()
}
fn default_auth_url() -> String {
    "https://account.box.com/api/oauth2".to_string()
}
fn default_token_url() -> String {
    "https://api.box.com/oauth2/token".to_string()
}
fn default_search_limit() -> u32 {
    25
}
fn default_page_size() -> u32 {
    50
}
fn default_max_read_bytes() -> u64 {
    1024 * 1024
}
fn default_download_wait() -> u64 {
    60
}
fn default_true() -> bool {
    true
}
fn default_sign_in_minutes() -> u64 {
    5
}

impl Default for Config {
    fn default() -> Self {
        Self {
            api_url: default_api_url(),
            upload_url: default_upload_url(),
            auth_url: default_auth_url(),
            token_url: default_token_url(),
            web_url: None,
            client_id: None,
            subject_type: None,
            subject_id: None,
            writable: false,
            search_limit: default_search_limit(),
            page_size: default_page_size(),
            max_read_bytes: default_max_read_bytes(),
            download_wait_seconds: default_download_wait(),
            open_browser: true,
            sign_in_minutes: default_sign_in_minutes(),
            redirect_port: None,
        }
    }
}

/// Whether `url` is http(s) and, when plain http, on this machine: tokens go to these URLs.
fn check_url(name: &str, url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("{name} ({url:?}) is not an http(s) URL"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name_only = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_string()
    };
    match scheme {
        "https" if !name_only.is_empty() => Ok(()),
        "http" if ["127.0.0.1", "localhost", "[::1]"].contains(&name_only.as_str()) => Ok(()),
        "http" => Err(format!(
            "{name} uses plain http to {name_only}: tokens would cross the network unencrypted; use https"
        )),
        _ => Err(format!("{name} ({url:?}) is not an http(s) URL")),
    }
}

impl Settings for Config {
    fn check(&self) -> Result<(), String> {
        for (name, url) in [
            ("api_url", &self.api_url),
            ("upload_url", &self.upload_url),
            ("auth_url", &self.auth_url),
            ("token_url", &self.token_url),
        ] {
            check_url(name, url)?;
        }
        if let Some(web) = &self.web_url {
            check_url("web_url", web)?;
        }
        match (&self.subject_type, &self.subject_id) {
            (Some(_), None) => {
                return Err(
                    "subject_type is set but subject_id is not: give the enterprise \
                            or user id the app signs in as"
                        .to_string(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "subject_id is set but subject_type is not: say enterprise or user".to_string(),
                );
            }
            (Some(_), Some(id)) if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(format!("subject_id ({id:?}) must be a Box id, digits only"));
            }
            (Some(_), Some(_)) if self.client_id.is_none() => {
                return Err(
                    "subject_type asks for the client credentials grant, which needs \
                            client_id (and the client_secret secret)"
                        .to_string(),
                );
            }
            _ => {}
        }
        if !(1..=200).contains(&self.page_size) {
            return Err(format!(
                "page_size ({}) must be between 1 and 200, as Box allows",
                self.page_size
            ));
        }
        if self.search_limit == 0 || self.max_read_bytes == 0 || self.sign_in_minutes == 0 {
            return Err(
                "search_limit, max_read_bytes and sign_in_minutes must be at least 1".to_string(),
            );
        }
        if self.client_id.as_deref().is_some_and(str::is_empty) {
            return Err("client_id is empty".to_string());
        }
        if self.redirect_port == Some(0) {
            return Err(
                "redirect_port is 0: give the port of the redirect URI registered in your Box \
                 app (http://127.0.0.1:<port>/callback), or leave it unset"
                    .to_string(),
            );
        }
        Ok(())
    }
}

impl Config {
    /// A URL setting without its trailing slash, for joining paths onto.
    fn base(url: &str) -> &str {
        url.trim_end_matches('/')
    }

    /// `api_url` followed by `path` (`/search`).
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", Self::base(&self.api_url))
    }

    /// `upload_url` followed by `path`.
    pub fn upload(&self, path: &str) -> String {
        format!("{}{path}", Self::base(&self.upload_url))
    }

    /// The authorization endpoint the browser opens.
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", Self::base(&self.auth_url))
    }

    /// The token endpoint.
    pub fn token(&self) -> String {
        Self::base(&self.token_url).to_string()
    }

    /// Box's revocation endpoint, beside the token endpoint (`…/oauth2/revoke`).
    pub fn revoke_url(&self) -> String {
        let token = Self::base(&self.token_url);
        match token.strip_suffix("/token") {
            Some(root) => format!("{root}/revoke"),
            None => format!("{token}/revoke"),
        }
    }

    /// Where a person opens items: `web_url`, or api_url's host with `api.` made `app.`.
    pub fn web(&self) -> String {
        if let Some(web) = &self.web_url {
            return Self::base(web).to_string();
        }
        let (scheme, rest) = self
            .api_url
            .split_once("://")
            .unwrap_or(("https", &self.api_url));
        let host = rest.split('/').next().unwrap_or_default();
        match host.strip_prefix("api.") {
            Some(domain) => format!("{scheme}://app.{domain}"),
            None => format!("{scheme}://{host}"),
        }
    }

    /// The link to file `id`.
    pub fn file_link(&self, id: &str) -> String {
        format!("{}/file/{id}", self.web())
    }

    /// The link to folder `id`.
    pub fn folder_link(&self, id: &str) -> String {
        format!("{}/folder/{id}", self.web())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_are_box_public_endpoints_and_links_go_to_the_web_app() {
        let config = Config::from_value(serde_json::Value::Null).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.api("/search"), "https://api.box.com/2.0/search");
        assert_eq!(
            config.upload("/files/content"),
            "https://upload.box.com/api/2.0/files/content"
        );
        assert_eq!(
            config.authorize_url(),
            "https://account.box.com/api/oauth2/authorize"
        );
        assert_eq!(config.revoke_url(), "https://api.box.com/oauth2/revoke");
        assert_eq!(config.file_link("42"), "https://app.box.com/file/42");
        let local = Config::from_value(json!({"api_url": "http://127.0.0.1:9/2.0/"})).unwrap();
        assert_eq!(local.api("/x"), "http://127.0.0.1:9/2.0/x");
        assert_eq!(local.folder_link("0"), "http://127.0.0.1:9/folder/0");
        let named = Config::from_value(json!({"web_url": "https://acme.app.box.com/"})).unwrap();
        assert_eq!(named.file_link("7"), "https://acme.app.box.com/file/7");
    }

    #[test]
    fn wrong_combinations_and_cleartext_remotes_are_refused_by_name() {
        for (value, says) in [
            (
                json!({"api_url": "http://api.box.com/2.0"}),
                "api_url uses plain http",
            ),
            (json!({"token_url": "ftp://x/token"}), "token_url"),
            (json!({"subject_type": "enterprise"}), "subject_id is not"),
            (json!({"subject_id": "1"}), "subject_type is not"),
            (
                json!({"subject_type": "enterprise", "subject_id": "1; drop", "client_id": "a"}),
                "digits only",
            ),
            (
                json!({"subject_type": "user", "subject_id": "1"}),
                "needs client_id",
            ),
            (json!({"subject_type": "admin", "subject_id": "1"}), "admin"),
            (json!({"page_size": "many"}), "page_size"),
            (json!({"page_size": 201}), "between 1 and 200"),
            (json!({"redirect_port": 0}), "redirect_port is 0"),
            (json!({"redirect_port": 70000}), "redirect_port"),
            (json!({"apiurl": "https://x"}), "unknown field"),
        ] {
            let error = Config::from_value(value.clone()).unwrap_err();
            assert!(error.message.contains(says), "{value}: {}", error.message);
        }
        let app = Config::from_value(json!({
            "client_id": "c", "subject_type": "enterprise", "subject_id": "1234",
            "api_url": "http://localhost:8080/2.0", "auth_url": "http://[::1]:9/api/oauth2"
        }))
        .unwrap();
        assert_eq!(app.subject_type, Some(SubjectType::Enterprise));
    }
}
