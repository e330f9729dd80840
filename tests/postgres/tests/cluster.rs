//! The test cluster itself: it starts, a client connects and queries it, two run side by
//! side on different ports, and dropping one stops its server and removes its folder.

use postgres::{Client, NoTls};
use switchboard_test_postgres::Cluster;

fn connect(cluster: &Cluster) -> Client {
    Client::connect(&cluster.params(), NoTls)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", cluster.url()))
}

#[test]
fn starts_answers_and_stops() {
    let Some(cluster) = Cluster::start_or_skip() else {
        return;
    };
    let mut client = connect(&cluster);
    let version: String = client.query_one("select version()", &[]).unwrap().get(0);
    assert!(version.starts_with("PostgreSQL "), "{version}");
    let db: String = client
        .query_one("select current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(db, cluster.dbname());
    // The URL form reaches the same server.
    let mut by_url = Client::connect(&cluster.url(), NoTls).unwrap();
    let one: i32 = by_url.query_one("select 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    drop((client, by_url));

    let (port, folder) = (cluster.port(), cluster.folder().to_path_buf());
    assert!(folder.join("data").is_dir());
    drop(cluster);
    assert!(!folder.exists(), "{} is left behind", folder.display());
    let params =
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5");
    assert!(
        Client::connect(&params, NoTls).is_err(),
        "a server still answers on {port} after drop"
    );
}

#[test]
fn two_clusters_at_once() {
    let Some(a) = Cluster::start_or_skip() else {
        return;
    };
    let Some(b) = Cluster::start_or_skip() else {
        return;
    };
    assert_ne!(a.port(), b.port());
    let (mut ca, mut cb) = (connect(&a), connect(&b));
    ca.batch_execute("create table only_in_a (id int)").unwrap();
    let in_b: i64 = cb
        .query_one(
            "select count(*) from pg_tables where tablename = 'only_in_a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_b, 0, "the clusters share state");
    let in_a: i64 = ca
        .query_one(
            "select count(*) from pg_tables where tablename = 'only_in_a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_a, 1);
}
