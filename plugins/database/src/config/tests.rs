//! The settings' checks: each refusal names the key.

use serde_json::json;
use switchboard_plugin_api::Settings;

use super::{Config, Operation};

fn one(db: serde_json::Value) -> Result<Config, String> {
    Config::from_value(json!({ "databases": [db] })).map_err(|e| e.message.to_string())
}

#[test]
fn defaults_offer_all_nine_and_read_only_offers_reads() {
    let config = one(json!({"name": "shop", "url": "sqlite:/tmp/x.db"})).unwrap();
    let db = &config.databases[0];
    assert_eq!(db.offered(), Operation::ALL.to_vec());
    assert_eq!((db.list_limit, db.bulk_size), (100, 100));
    let ro = one(json!({"name": "shop", "url": "sqlite:x.db", "read_only": true})).unwrap();
    assert_eq!(
        ro.databases[0].offered(),
        vec![Operation::Read, Operation::List]
    );
    let some = one(json!({"name": "s", "url": "sqlite:x", "operations": ["list", "delete"]}));
    assert_eq!(
        some.unwrap().databases[0].offered(),
        vec![Operation::Delete, Operation::List]
    );
    assert!(Config::from_value(serde_json::Value::Null).is_ok());
}

#[test]
fn wrong_settings_are_refused_naming_the_key() {
    for (db, says) in [
        (
            json!({"name": "Shop", "url": "sqlite:x"}),
            "databases[0].name \"Shop\"",
        ),
        (json!({"name": "a__b", "url": "sqlite:x"}), "no __"),
        (
            json!({"name": "x; drop", "url": "sqlite:x"}),
            "databases[0].name",
        ),
        (
            json!({"name": "s", "url": "mysql://h/d"}),
            "(s).url: the url must start",
        ),
        (json!({"name": "s", "url": "sqlite:"}), "needs a path"),
        (
            json!({"name": "s", "url": "postgres://app:hunter2@h/db"}),
            "(s).url holds a password",
        ),
        (
            json!({"name": "s", "url": "postgres://app@h/db?password=x"}),
            "holds a password",
        ),
        (
            json!({"name": "s", "url": "host=h password=x dbname=d"}),
            "holds a password",
        ),
        (
            json!({"name": "s", "url": "sqlite:x", "password_secret": "pw"}),
            "password_secret \"pw\" must be one of",
        ),
        (
            json!({"name": "s", "url": "sqlite:x", "tables": {"include": ["[a"]}}),
            "(s).tables.include: \"[a\"",
        ),
        (
            json!({"name": "s", "url": "sqlite:x", "operations": []}),
            "operations is empty",
        ),
        (
            json!({"name": "s", "url": "sqlite:x", "operations": ["drop"]}),
            "unknown variant",
        ),
        (
            json!({"name": "s", "url": "sqlite:x", "bulk_size": 0}),
            "bulk_size must be 1",
        ),
        (
            json!({"name": "s", "url": "sqlite:x", "search_columns": {"t": []}}),
            "search_columns.t is empty",
        ),
    ] {
        let error = one(db.clone()).unwrap_err();
        assert!(error.contains(says), "{db}: {error}");
        assert!(
            !error.contains("hunter2"),
            "the password is not repeated: {error}"
        );
    }
    let twice = Config::from_value(json!({"databases": [
        {"name": "s", "url": "sqlite:a"}, {"name": "s", "url": "sqlite:b"}
    ]}));
    assert!(twice.unwrap_err().message.as_str().contains("used twice"));
    assert!(
        one(
            json!({"name": "s", "url": "postgres://app@h:5432/db", "password_secret": "password_2"})
        )
        .is_ok()
    );
}
