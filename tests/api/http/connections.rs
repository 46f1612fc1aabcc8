//! Slow and surplus connections: the header read timeout and `max_connections`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::database::Backend;
use crate::helpers::AppOptions;

/// Read until the server closes the connection; how long that took, or `None` past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_all)
        .await
        .ok()
        .map(|()| started.elapsed())
}

backends!(a_client_that_sends_half_a_request_line_is_cut_off_after_the_header_read_timeout: sqlite, postgres);
async fn a_client_that_sends_half_a_request_line_is_cut_off_after_the_header_read_timeout(
    backend: Backend,
) {
    let app = AppOptions::fresh(backend, "")
        .configure(|c| c.server.header_read_timeout = Duration::from_secs(1))
        .spawn()
        .await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /hea").await.unwrap();

    let slow_closed = closed_within(&mut slow, Duration::from_secs(10)).await;
    let silent_closed = closed_within(&mut silent, Duration::from_secs(10)).await;

    let slow_closed = slow_closed.expect("the slow client is cut off");
    assert!(slow_closed >= Duration::from_millis(900), "{slow_closed:?}");
    assert!(slow_closed < Duration::from_secs(5), "{slow_closed:?}");
    assert!(
        silent_closed.is_some(),
        "a client that sends nothing is cut off too"
    );
    let healthy = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthy.status(), 200);
    app.stop().await;
}

backends!(connections_past_max_connections_wait_until_one_closes: sqlite, postgres);
async fn connections_past_max_connections_wait_until_one_closes(backend: Backend) {
    let app = AppOptions::fresh(backend, "")
        .configure(|c| {
            c.server.max_connections = 2;
            c.server.header_read_timeout = Duration::from_secs(30);
        })
        .spawn()
        .await;
    let first = TcpStream::connect(app.addr).await.unwrap();
    let _second = TcpStream::connect(app.addr).await.unwrap();

    let while_full = app
        .client
        .get(app.url("/healthz"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    drop(first);
    let after = app
        .client
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("served once a connection is free");

    assert!(while_full.is_err(), "{while_full:?}");
    assert_eq!(after.status(), 200);
    app.stop().await;
}
