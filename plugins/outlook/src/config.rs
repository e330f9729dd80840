//! The connector's settings (its section of `config.yaml`), the sign-in endpoints and scopes
//! they imply, and the checks the schema cannot express.
//!
//! The scopes are the least the configured tools need: a person grants `User.Read` (to say
//! who is signed in) and `Mail.Read`, plus `Mail.ReadWrite` only when `drafts` is on and
//! `Mail.Send` only when `send` is on; an app asks for `{graph}/.default`, the application
//! permissions an administrator granted it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Settings;
use switchboard_plugin_http::oauth::Endpoints;

/// The connector's settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Microsoft Graph's base URL, version included (a national cloud's, a proxy's, or a
    /// stand-in's).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The Microsoft identity platform's base URL; the token, device code and authorize
    /// endpoints are {auth_url}/{tenant}/oauth2/v2.0/{token|devicecode|authorize}.
    #[serde(default = "default_auth_url")]
    pub auth_url: String,
    /// The directory to sign in to: its id or domain, or organizations (any work or school
    /// account), common or consumers. The app flow needs a specific tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The application (client) id of the app registration the sign-in uses. Required.
    #[serde(default)]
    pub client_id: Option<String>,
    /// With client_secret set (the app flow): the user principal name of the mailbox the app
    /// reads, as /users/{mailbox} instead of /me.
    #[serde(default)]
    pub mailbox: Option<String>,
    /// Offer create_draft, and ask for Mail.ReadWrite at sign-in.
    #[serde(default)]
    pub drafts: bool,
    /// Offer send_mail, and ask for Mail.Send at sign-in.
    #[serde(default)]
    pub send: bool,
    /// Messages asked for per page of a search or listing ($top, 1-1000).
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1, max = 1000))]
    pub page_size: u32,
}

fn default_api_url() -> String {
    "https://graph.microsoft.com/v1.0".to_string()
}

fn default_auth_url() -> String {
    "https://login.microsoftonline.com".to_string()
}

fn default_tenant() -> String {
    "organizations".to_string()
}

fn default_page_size() -> u32 {
    25
}

impl Default for Config {
    fn default() -> Self {
        Self {
            api_url: default_api_url(),
            auth_url: default_auth_url(),
            tenant: default_tenant(),
            client_id: None,
            mailbox: None,
            drafts: false,
            send: false,
            page_size: default_page_size(),
        }
    }
}

/// The Graph hosts of Microsoft's clouds; an app asks for the `.default` scope of the one its
/// `api_url` names, and of the global one behind anything else (a proxy, a stand-in).
const GRAPH_CLOUDS: &[&str] = &[
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
];

impl Config {
    /// `api_url` without a trailing `/`.
    pub fn api(&self) -> &str {
        self.api_url.trim_end_matches('/')
    }

    /// Where the identity platform signs in for this tenant.
    pub fn endpoints(&self) -> Endpoints {
        let base = format!(
            "{}/{}/oauth2/v2.0",
            self.auth_url.trim_end_matches('/'),
            self.tenant
        );
        Endpoints {
            token: format!("{base}/token"),
            device: Some(format!("{base}/devicecode")),
            authorize: Some(format!("{base}/authorize")),
        }
    }

    /// The delegated scopes a person grants.
    pub fn person_scopes(&self) -> Vec<String> {
        let mut scopes = vec!["offline_access", "User.Read", "Mail.Read"];
        if self.drafts {
            scopes.push("Mail.ReadWrite");
        }
        if self.send {
            scopes.push("Mail.Send");
        }
        scopes.into_iter().map(str::to_string).collect()
    }

    /// The scope an app asks for.
    pub fn app_scope(&self) -> String {
        let cloud = GRAPH_CLOUDS
            .iter()
            .find(|c| {
                self.api()
                    .strip_prefix(**c)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .unwrap_or(&GRAPH_CLOUDS[0]);
        format!("{cloud}/.default")
    }
}

/// Whether `url` is an absolute http(s) URL without a query or fragment.
fn plain_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['?', '#', ' '])
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
}

impl Settings for Config {
    fn check(&self) -> Result<(), String> {
        for (name, url) in [("api_url", &self.api_url), ("auth_url", &self.auth_url)] {
            if !plain_url(url) {
                return Err(format!(
                    "{name} must be an http(s) URL without a query, such as {}",
                    if name == "api_url" {
                        default_api_url()
                    } else {
                        default_auth_url()
                    }
                ));
            }
        }
        let tenant_ok = !self.tenant.is_empty()
            && self
                .tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !tenant_ok {
            return Err(format!(
                "tenant {:?} is not a directory id or domain (letters, digits, '-' and '.')",
                self.tenant
            ));
        }
        if let Some(id) = &self.client_id {
            let ok = !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(format!(
                    "client_id {id:?} is not an application id (the GUID the app registration shows)"
                ));
            }
        }
        if let Some(mailbox) = &self.mailbox {
            let ok = mailbox.contains('@')
                && !mailbox.contains("..")
                && !mailbox
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "/\\?#%'\"".contains(c));
            if !ok {
                return Err(format!(
                    "mailbox {mailbox:?} is not a user principal name such as megan@contoso.com"
                ));
            }
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err(format!(
                "page_size ({}) must be between 1 and 1000",
                self.page_size
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn no_section_means_the_public_endpoints_and_least_privilege() {
        let config = Config::from_value(Value::Null).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.api(), "https://graph.microsoft.com/v1.0");
        let endpoints = config.endpoints();
        assert_eq!(
            endpoints.token,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            endpoints.device.as_deref(),
            Some("https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode")
        );
        assert_eq!(
            endpoints.authorize.as_deref(),
            Some("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize")
        );
        assert_eq!(
            config.person_scopes(),
            ["offline_access", "User.Read", "Mail.Read"]
        );
        assert_eq!(config.app_scope(), "https://graph.microsoft.com/.default");
    }

    #[test]
    fn drafts_and_send_each_add_their_scope_only() {
        let drafts = Config::from_value(json!({"drafts": true})).unwrap();
        assert_eq!(
            drafts.person_scopes(),
            ["offline_access", "User.Read", "Mail.Read", "Mail.ReadWrite"]
        );
        let send = Config::from_value(json!({"send": true})).unwrap();
        assert_eq!(
            send.person_scopes(),
            ["offline_access", "User.Read", "Mail.Read", "Mail.Send"]
        );
    }

    #[test]
    fn a_national_cloud_gets_its_own_app_scope_and_a_proxy_the_global_one() {
        let us =
            Config::from_value(json!({"api_url": "https://graph.microsoft.us/v1.0/"})).unwrap();
        assert_eq!(us.app_scope(), "https://graph.microsoft.us/.default");
        assert_eq!(us.api(), "https://graph.microsoft.us/v1.0");
        let proxy = Config::from_value(json!({"api_url": "http://127.0.0.1:9/v1.0"})).unwrap();
        assert_eq!(proxy.app_scope(), "https://graph.microsoft.com/.default");
        let lookalike =
            Config::from_value(json!({"api_url": "https://graph.microsoft.com.evil.example/v1.0"}))
                .unwrap();
        assert_eq!(
            lookalike.app_scope(),
            "https://graph.microsoft.com/.default"
        );
        let tenant =
            Config::from_value(json!({"tenant": "contoso", "auth_url": "http://127.0.0.1:9/"}))
                .unwrap();
        assert_eq!(
            tenant.endpoints().token,
            "http://127.0.0.1:9/contoso/oauth2/v2.0/token"
        );
    }

    #[test]
    fn the_schema_shows_the_defaults_serde_applies() {
        let schema = Config::schema();
        let defaults: serde_json::Map<String, Value> = schema["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["default"].clone()))
            .collect();
        assert_eq!(
            Config::from_value(Value::Object(defaults)).unwrap(),
            Config::default()
        );
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["properties"]["page_size"]["maximum"], 1000);
    }

    #[test]
    fn hostile_or_wrong_settings_are_refused_naming_the_setting() {
        for (bad, says) in [
            (json!({"api_url": "graph.microsoft.com"}), "api_url"),
            (
                json!({"api_url": "https://graph.microsoft.com/v1.0?x=1"}),
                "api_url",
            ),
            (json!({"auth_url": "ftp://login"}), "auth_url"),
            (json!({"tenant": "contoso/../common"}), "tenant"),
            (json!({"tenant": "a?b"}), "tenant"),
            (json!({"client_id": "x&scope=.default"}), "client_id"),
            (json!({"mailbox": "../users/ceo@contoso.com"}), "mailbox"),
            (
                json!({"mailbox": "megan@contoso.com/messages?$top=1"}),
                "mailbox",
            ),
            (json!({"mailbox": "x' OR 1=1 --@contoso.com"}), "mailbox"),
            (json!({"mailbox": "nobody"}), "mailbox"),
            (json!({"page_size": 0}), "page_size"),
            (json!({"page_size": 5000}), "page_size"),
            (json!({"pagesize": 5}), "unknown field"),
        ] {
            let error = Config::from_value(bad.clone()).unwrap_err();
            assert!(error.message.contains(says), "{bad}: {}", error.message);
        }
    }
}
