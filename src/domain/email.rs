//! `EmailAddress`: an email address Constant Contact's `sign_up_form` will accept.
//!
//! The syntax is the HTML Standard's "valid email address" (what a browser's `<input type="email">`
//! enforces), narrowed where Constant Contact is stricter: the domain needs a dot and a top-level
//! label of at least two characters that is not all digits (ccbridge's own rule, which the
//! sandbox applies too, so that an accepted signup is deliverable), the local part has no leading, trailing or doubled dots, and the
//! whole address is at most 50 characters (`sign_up_form`'s `email_address` maxLength).
//! Input is trimmed and the domain lower-cased; the local part keeps its case.

use std::fmt;

/// Constant Contact's limit for `email_address` in `POST /contacts/sign_up_form`.
pub const MAX_EMAIL_CHARS: usize = 50;

/// The shortest top-level label accepted (ccbridge's rule, shared with the sandbox).
pub const MIN_TLD_CHARS: usize = 2;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is required")]
    Missing,
    #[error("email must be at most {MAX_EMAIL_CHARS} characters (got {0})")]
    TooLong(usize),
    #[error("email is not a valid address: {0}")]
    Invalid(&'static str),
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Missing);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong(chars));
        }
        let (local, domain) = trimmed
            .rsplit_once('@')
            .ok_or(EmailError::Invalid("it has no @"))?;
        check_local(local)?;
        let domain = domain.to_ascii_lowercase();
        check_domain(&domain)?;
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with the local part hidden (`j***@example.com`), for logs.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// Hide the local part of anything that looks like an email address.
pub fn redact(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Hide the local part of every email address inside a free text, such as an upstream error
/// message that quotes the address it refused, before it goes to a log or an alert.
pub fn redact_emails_in(text: &str) -> String {
    let is_local = |c: char| c.is_alphanumeric() || "._%+-'!#$&*=?^`{|}~/".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let local_len = chars[..i]
            .iter()
            .rev()
            .take_while(|c| is_local(**c))
            .count();
        let domain_len = chars[i + 1..].iter().take_while(|c| is_domain(**c)).count();
        let domain: String = chars[i + 1..i + 1 + domain_len].iter().collect();
        let domain = domain.trim_end_matches('.');
        if local_len == 0 || !domain.contains('.') {
            out.push('@');
            i += 1;
            continue;
        }
        // The local part is already in `out`: take it back out and put the redacted form in.
        let kept: String = out.chars().take(out.chars().count() - local_len).collect();
        let local: String = chars[i - local_len..i].iter().collect();
        out = kept;
        out.push_str(&redact(&format!("{local}@{domain}")));
        i += 1 + domain.chars().count();
    }
    out
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.redacted())
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// HTML's `atext` set plus `.` (dots checked separately).
fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c)
}

fn check_local(local: &str) -> Result<(), EmailError> {
    if local.is_empty() {
        return Err(EmailError::Invalid("nothing before the @"));
    }
    if !local.chars().all(is_local_char) {
        return Err(EmailError::Invalid(
            "a character before the @ is not allowed",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailError::Invalid("dots before the @ must separate words"));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), EmailError> {
    if domain.is_empty() {
        return Err(EmailError::Invalid("nothing after the @"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(EmailError::Invalid(
            "the domain needs a dot, as in example.com",
        ));
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(EmailError::Invalid("the domain is not a valid host name"));
        }
    }
    let tld = labels.last().expect("at least two labels");
    // No top-level domain has one character; Constant Contact refuses such addresses, so
    // accepting one would queue a signup that can never be delivered.
    if tld.len() < MIN_TLD_CHARS {
        return Err(EmailError::Invalid(
            "the domain must end in a name of at least two letters, as in .com",
        ));
    }
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(EmailError::Invalid(
            "the domain must end in a name, not a number",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_inside_a_text_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_emails_in("The email address jane.doe@example.org is invalid."),
            "The email address j***@example.org is invalid."
        );
        assert_eq!(
            redact_emails_in("[\"a@b.co\", \"x\"] and c@d.io"),
            "[\"a***@b.co\", \"x\"] and c***@d.io"
        );
        assert_eq!(
            redact_emails_in("no address @ all, @home"),
            "no address @ all, @home"
        );
        assert_eq!(redact_emails_in("user@localhost"), "user@localhost");
        assert_eq!(redact_emails_in("émile@exämple.fr!"), "é***@exämple.fr!");
    }

    #[test]
    fn ordinary_addresses_are_accepted_and_normalised() {
        let email = EmailAddress::parse("  Jane.Doe+news@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe+news@example.org");
    }

    #[test]
    fn rejects_are_specific() {
        assert_eq!(EmailAddress::parse("   "), Err(EmailError::Missing));
        assert!(matches!(
            EmailAddress::parse("jane"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("@example.com"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("jane@"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("jane@localhost"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("jane@1.2.3.4"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("ja ne@example.com"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse(".jane@example.com"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("ja..ne@example.com"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("jane@-example.com"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("jane@exa_mple.com"),
            Err(EmailError::Invalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("jäne@example.com"),
            Err(EmailError::Invalid(_))
        ));
    }

    #[test]
    fn the_top_level_domain_has_two_characters_or_more_and_is_not_a_number() {
        for refused in ["a@b.c", "jane@example.x", "a@b.1", "a@b.12"] {
            assert!(
                matches!(EmailAddress::parse(refused), Err(EmailError::Invalid(_))),
                "{refused}"
            );
        }
        for accepted in ["a@b.co", "a@b.c2", "a@x.museum", "a@1.io"] {
            assert!(EmailAddress::parse(accepted).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn fifty_characters_is_the_limit() {
        let domain = "@example.com"; // 12 characters
        let fifty = format!("{}{domain}", "a".repeat(38));
        assert_eq!(fifty.len(), 50);
        assert!(EmailAddress::parse(&fifty).is_ok());
        let fifty_one = format!("{}{domain}", "a".repeat(39));
        assert_eq!(
            EmailAddress::parse(&fifty_one),
            Err(EmailError::TooLong(51))
        );
    }

    #[test]
    fn debug_and_redacted_hide_the_local_part() {
        let email = EmailAddress::parse("jane.doe@example.org").unwrap();
        assert_eq!(email.redacted(), "j***@example.org");
        assert!(!format!("{email:?}").contains("jane.doe"));
    }

    fn local_part() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-zA-Z0-9_+-]{1,8}){0,2}"
    }

    fn domain() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,6}){0,2}\\.[a-z]{2,6}"
    }

    proptest! {
        #[test]
        fn valid_addresses_within_the_limit_are_accepted(local in local_part(), domain in domain()) {
            let address = format!("{local}@{domain}");
            let parsed = EmailAddress::parse(&address);
            if address.chars().count() <= MAX_EMAIL_CHARS {
                let parsed = parsed.unwrap();
                prop_assert_eq!(parsed.as_str(), address.as_str());
            } else {
                prop_assert!(matches!(parsed, Err(EmailError::TooLong(_))));
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(input in any::<String>()) {
            let _ = EmailAddress::parse(&input);
            let _ = redact(&input);
        }

        #[test]
        fn an_accepted_address_reparses_to_itself(input in "\\PC{0,60}") {
            if let Ok(email) = EmailAddress::parse(&input) {
                prop_assert_eq!(EmailAddress::parse(email.as_str()).unwrap(), email.clone());
                prop_assert!(email.as_str().chars().count() <= MAX_EMAIL_CHARS);
            }
        }
    }
}
