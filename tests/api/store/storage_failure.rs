//! When the database cannot be written, the endpoint answers 503 and no success answer is ever
//! given for a signup that was not stored (invariant 1).

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::{error_code, spawn_app};

backends!(a_locked_database_gets_503_and_nothing_is_accepted: sqlite, postgres);
async fn a_locked_database_gets_503_and_nothing_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let locker = crate::helpers::WriteLock::take(backend, &app.db_path).await;

    let json = app
        .post_json("newsletter", &json!({ "email": "locked@example.com" }))
        .await;
    assert_eq!(json.headers()["retry-after"], "5");
    assert_eq!(error_code(json).await, (503, "unavailable".into(), None));
    let html = app
        .post_form("site", &[("email", "locked2@example.com")])
        .await;
    assert_eq!(html.status(), 303);
    assert_eq!(
        html.headers()["location"],
        "https://example.org/oops?lang=en&error=unavailable",
        "a browser is sent to the error page, never the thank-you page"
    );
    let built_in = app
        .post_form("newsletter", &[("email", "locked3@example.com")])
        .await;
    assert_eq!(built_in.status(), 503);

    locker.release().await;
    assert!(
        app.signups().await.is_empty(),
        "nothing was stored while locked"
    );
    let after = app
        .post_json("newsletter", &json!({ "email": "after@example.com" }))
        .await;
    assert_eq!(
        after.status(),
        202,
        "the service recovers by itself once writes succeed"
    );
    app.stop().await;
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Self, String> {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(Self(at.to_owned()))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fill the filesystem holding `dir` until a write fails with "no space".
fn fill_disk(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        if let Err(e) = file.write_all(&chunk).and_then(|()| file.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
            return path;
        }
    }
}

// SQLite only: about SQLite's own file on a full disk.
backends!(a_full_disk_gets_503_and_every_success_answer_was_stored: sqlite);
async fn a_full_disk_gets_503_and_every_success_answer_was_stored(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mount_point = dir.path().join("small");
    std::fs::create_dir(&mount_point).unwrap();
    let tmpfs = match Tmpfs::mount(&mount_point, "2m") {
        Ok(tmpfs) => tmpfs,
        Err(reason) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED a_full_disk_gets_503…: mounting a tmpfs needs root ({reason})");
            return;
        }
        Err(reason) => {
            panic!("CI must run the disk-full test, but tmpfs could not be mounted: {reason}")
        }
    };
    let db_path = mount_point.join("ccbridge.db");
    let app = crate::helpers::AppOptions::new(backend, dir, db_path, "")
        .spawn()
        .await;
    let filler = fill_disk(&mount_point);

    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for i in 0..200 {
        let email = format!("full{i}@example.com");
        let response = app
            .post_json(
                "newsletter",
                &json!({ "email": email, "topic": "t".repeat(255) }),
            )
            .await;
        match response.status().as_u16() {
            202 => {
                let body: Value = response.json().await.unwrap();
                accepted.push((
                    body["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap(),
                    email,
                ));
            }
            503 => refused.push(email),
            other => panic!("unexpected status {other} on a full disk"),
        }
    }
    assert!(
        !refused.is_empty(),
        "the full disk must have refused some signups"
    );

    std::fs::remove_file(filler).unwrap();
    let after = app
        .post_json("newsletter", &json!({ "email": "after@example.com" }))
        .await;
    assert_eq!(
        after.status(),
        202,
        "the service recovers once there is space again"
    );

    for (id, email) in &accepted {
        let stored = app
            .store
            .signup(*id)
            .await
            .unwrap()
            .expect("every 202 was stored");
        assert_eq!(stored.email.as_ref(), Some(email));
    }
    let stored_emails: HashSet<String> = app
        .signups()
        .await
        .into_iter()
        .filter_map(|s| s.email)
        .collect();
    for email in &refused {
        assert!(
            !stored_emails.contains(email),
            "a refused signup was stored: {email}"
        );
    }
    let (dir, _) = app.stop().await;
    drop(tmpfs);
    drop(dir);
}
