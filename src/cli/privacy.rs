//! `ccbridge privacy export|erase EMAIL`: answering a person's access or erasure request from
//! the terminal. Each leaves an audit line (a keyed hash of the address, `cli`, the time).

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::load::{load_with_source, open_store};
use crate::domain::EmailAddress;
use crate::store::{Erased, NOT_ERASED, PrivacyExport};

/// Who the audit line names for a request made here.
const ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Print everything ccbridge keeps about an address: signups (with their states and
    /// errors), consent records with their texts, mails, and the unsubscribed mirror's entry.
    /// Exit code: 0 printed (also when nothing is kept), 2 not an email address, 1 on errors.
    Export {
        #[arg(value_name = "EMAIL", value_parser = parse_email)]
        email: EmailAddress,
        /// One JSON document instead of the readable text.
        #[arg(long)]
        json: bool,
    },
    /// Delete everything ccbridge keeps about an address, in one transaction (the contact in
    /// Constant Contact is not touched). Asks first on a terminal.
    /// Exit code: 0 erased (also when nothing was kept), 2 not an email address, 1 on errors or
    /// when not confirmed.
    Erase {
        #[arg(value_name = "EMAIL", value_parser = parse_email)]
        email: EmailAddress,
        /// Do not ask (needed when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

fn parse_email(input: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(input).map_err(|error| error.to_string())
}

pub async fn run(path: Option<PathBuf>, command: PrivacyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PrivacyCommand::Export { email, json } => export(path, &email, json).await,
        PrivacyCommand::Erase { email, yes } => erase(path, &email, yes).await,
    }
}

async fn export(
    path: Option<PathBuf>,
    email: &EmailAddress,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = open_store(&load_with_source(path)?).await?;
    let result = store
        .privacy_export(email, ACTOR, chrono::Utc::now())
        .await
        .context("reading what is kept about the address");
    store.close().await;
    let export = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&export)?);
    } else {
        print!("{}", human(&export));
    }
    Ok(ExitCode::SUCCESS)
}

async fn erase(path: Option<PathBuf>, email: &EmailAddress, yes: bool) -> anyhow::Result<ExitCode> {
    if !yes && !confirmed(email)? {
        eprintln!("ccbridge: nothing was erased");
        return Ok(ExitCode::FAILURE);
    }
    let store = open_store(&load_with_source(path)?).await?;
    let result = store
        .privacy_erase(email, ACTOR, chrono::Utc::now())
        .await
        .context("erasing the address's data");
    store.close().await;
    let erased = result?;
    print!("{}", erased_summary(email, &erased));
    println!("{NOT_ERASED}");
    Ok(ExitCode::SUCCESS)
}

/// On a terminal, ask; anywhere else, `--yes` is the only confirmation.
fn confirmed(email: &EmailAddress) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "erasing needs a confirmation: run it on a terminal, or add --yes; nothing was erased"
        );
    }
    print!(
        "Erase everything ccbridge keeps about {}? This cannot be undone. Type yes: ",
        email.as_str()
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// What an erasure deleted, one line per kind.
pub fn erased_summary(email: &EmailAddress, erased: &Erased) -> String {
    let mut out = format!(
        "Erased {} row(s) about {}:\n",
        erased.total(),
        email.as_str()
    );
    for (kind, n) in erased.by_kind() {
        let _ = writeln!(out, "  {kind}: {n}");
    }
    out
}

/// The export as a person reads it.
fn human(export: &PrivacyExport) -> String {
    let mut out = format!("# What ccbridge keeps about {}\n", export.email);
    if export.is_empty() && export.unsubscribed.is_none() {
        out.push_str("\nNothing.\n");
        return out;
    }
    signups_text(&mut out, export);
    consent_records_text(&mut out, export);
    mails_text(&mut out, export);
    resubscribe_requests_text(&mut out, export);
    unsubscribed_text(&mut out, export);
    out
}

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_owned())
}

fn when(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    time.map_or("-".to_owned(), |t| t.to_string())
}

fn signups_text(out: &mut String, export: &PrivacyExport) {
    let _ = writeln!(out, "\n## Signups ({})", export.signups.len());
    for s in &export.signups {
        let _ = writeln!(
            out,
            "- {} form {} state {} created {}\n  email {} name {} {} phone {} company {} job title {}\n  lists {:?} custom fields {}\n  attempts {} last error {} spam reason {} hold reason {}\n  consent {} confirmed {} delivered {} contact {} client {} agent {}",
            s.id,
            s.form_id,
            s.state.as_str(),
            s.created_at,
            opt(&s.email),
            opt(&s.first_name),
            opt(&s.last_name),
            opt(&s.phone),
            opt(&s.company),
            opt(&s.job_title),
            s.list_ids,
            serde_json::to_string(&s.custom_fields).unwrap_or_default(),
            s.attempts,
            opt(&s.last_error),
            opt(&s.spam_reason),
            opt(&s.hold_reason),
            s.consent_mode.as_str(),
            when(s.confirmed_at),
            when(s.delivered_at),
            opt(&s.contact_id),
            opt(&s.client_ip),
            opt(&s.user_agent),
        );
    }
}

fn consent_records_text(out: &mut String, export: &PrivacyExport) {
    let _ = writeln!(
        out,
        "\n## Consent records ({})",
        export.consent_records.len()
    );
    for r in &export.consent_records {
        let _ = writeln!(
            out,
            "- signup {} form {} mode {} signed up {} from page {} language {} client {} agent {}\n  confirmed {} (client {} agent {}) delivered {} outcome {} contact {}\n  consent text {}: {}",
            r.signup_id,
            r.form_id,
            r.consent_mode,
            r.signed_up_at,
            opt(&r.source_page),
            opt(&r.language),
            opt(&r.client_ip),
            opt(&r.user_agent),
            when(r.confirmed_at),
            opt(&r.confirm_ip),
            opt(&r.confirm_user_agent),
            when(r.delivered_at),
            opt(&r.outcome),
            opt(&r.contact_id),
            opt(&r.consent_text_hash),
            opt(&r.consent_text),
        );
    }
}

fn mails_text(out: &mut String, export: &PrivacyExport) {
    let _ = writeln!(
        out,
        "\n## Mails ({}; bodies are never stored)",
        export.mails.len()
    );
    for m in &export.mails {
        let _ = writeln!(
            out,
            "- {} {} to {} for signup {}: {} (queued {}, sent {})",
            m.id,
            m.kind,
            m.to_address,
            m.signup_id,
            m.state,
            m.created_at,
            when(m.sent_at),
        );
    }
}

fn resubscribe_requests_text(out: &mut String, export: &PrivacyExport) {
    let _ = writeln!(
        out,
        "\n## Resubscribe requests to Constant Contact ({})",
        export.resubscribe_requests.len()
    );
    for r in &export.resubscribe_requests {
        let _ = writeln!(
            out,
            "- contact {} for signup {} at {}",
            r.contact_id, r.signup_id, r.requested_at
        );
    }
}

fn unsubscribed_text(out: &mut String, export: &PrivacyExport) {
    out.push_str("\n## Unsubscribed mirror\n");
    match &export.unsubscribed {
        Some(u) => {
            let _ = writeln!(
                out,
                "- contact {} opted out {} deleted {} synced {}\n  {}",
                u.contact_id,
                when(u.opted_out_at),
                u.deleted,
                u.synced_at,
                export.note
            );
        }
        None => out.push_str("- no entry\n"),
    }
}
