//! PostgreSQL going away under a running service (a restart, a failover, a cut network): signups
//! get a clear 503 and are not stored, readiness says so while liveness stays up, nothing that was
//! acknowledged is lost, and the service recovers by itself when the server is back. PostgreSQL
//! only: the service reaches the server through a TCP proxy the test can cut.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::database::Backend;
use crate::helpers::{AppOptions, eventually};

/// Forwards connections to the PostgreSQL server until cut; while cut, every connection is
/// closed at once (as when the server restarts) and new ones are closed on arrival.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    epoch: Arc<std::sync::Mutex<CancellationToken>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let epoch = Arc::new(std::sync::Mutex::new(CancellationToken::new()));
        let (accept_open, accept_epoch) = (open.clone(), epoch.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_open.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let cut = accept_epoch.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut.cancelled() => {}
                    }
                });
            }
        });
        Self { addr, open, epoch }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let mut epoch = self.epoch.lock().unwrap();
        epoch.cancel();
        *epoch = CancellationToken::new();
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_ip_host(addr.ip()).unwrap();
    parsed.set_port(Some(addr.port())).unwrap();
    parsed.to_string()
}

fn server_addr(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", parsed.port().unwrap_or(5432))
        .parse()
        .expect("the test server's address is an IP and a port")
}

// PostgreSQL only: the service reaches the server through a proxy the test cuts.
backends!(a_lost_database_gets_503s_and_the_service_recovers_by_itself: postgres);
async fn a_lost_database_gets_503s_and_the_service_recovers_by_itself(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("ccbridge.db");
    let direct = crate::helpers::database_url(backend, &db_path).await;
    let proxy = Proxy::start(server_addr(&direct)).await;
    let proxied = through(&direct, proxy.addr);
    let app = AppOptions::new(backend, dir, db_path, "")
        .without_background_delivery()
        .configure(move |c| c.database.url = proxied.parse().unwrap())
        .spawn()
        .await;
    let post = |email: String| {
        let app = &app;
        async move {
            let response = app
                .post_json("newsletter", &json!({ "email": email }))
                .await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let (status, body) = post(format!("before{i}@example.com")).await;
        assert_eq!(status, 202, "{body}");
        acknowledged.push(body["id"].as_str().unwrap().to_owned());
    }

    proxy.cut();
    for i in 0..5 {
        let started = tokio::time::Instant::now();
        let (status, body) = post(format!("during{i}@example.com")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a clear answer, not a hang: {:?}",
            started.elapsed()
        );
    }
    let ready = app.readyz_as_admin().await;
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["database"],
        "unavailable"
    );
    let live = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);

    proxy.restore();
    let id = eventually(
        Duration::from_secs(20),
        "signups to be accepted again",
        || async {
            let (status, body) = post("after@example.com".into()).await;
            (status == 202).then(|| body["id"].as_str().unwrap().to_owned())
        },
    )
    .await;
    acknowledged.push(id);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let stored = app.signups().await;
    let mut stored_ids: Vec<String> = stored.iter().map(|s| s.id.to_string()).collect();
    stored_ids.sort();
    acknowledged.sort();
    assert_eq!(stored_ids, acknowledged, "every 202 stored, nothing else");
    assert!(
        stored
            .iter()
            .all(|s| !s.email.as_deref().unwrap_or("").starts_with("during")),
        "no refused signup was stored"
    );
    app.stop().await;
}
