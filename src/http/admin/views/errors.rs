//! A failed or dead signup's upstream error in words: what happened and what to do. The raw
//! error stays beside it (the console shows it in a `<details>`).

/// A sentence for the error kept with a signup (`last_error`).
pub fn in_words(raw: &str) -> String {
    // A signup given up on for its age: `gave up after 3days: <the last error>`.
    let (gave_up, error) = match raw.strip_prefix("gave up after ") {
        Some(rest) => match rest.split_once(": ") {
            Some((age, error)) => (Some(age), error),
            None => (Some(rest), ""),
        },
        None => (None, raw),
    };
    let status = error
        .split_once("answered ")
        .and_then(|(_, rest)| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok());
    let lower = error.to_ascii_lowercase();
    let sentence = match status {
        Some(400) => {
            "Constant Contact refused the signup as invalid (400): usually an address it does not accept, or a field value it rejects. Retrying without a change will not help."
        }
        Some(401) => {
            "Constant Contact refused ccbridge's token (401): the connection needs a reconnect."
        }
        Some(403) => {
            "Constant Contact refused the call (403): a missing scope or privilege, or a deactivated app."
        }
        Some(404) => {
            "Constant Contact does not know a list or custom field this form names (404): fix the form's ids on the Forms page, then retry."
        }
        Some(409) => {
            "Constant Contact reported a conflict (409), usually the same contact changed at the same moment; it is retried."
        }
        Some(429) => "Constant Contact asked ccbridge to slow down (429); it is retried.",
        Some(500..=599) => "Constant Contact had a server error (5xx); it is retried on its own.",
        _ if lower.contains("no answer from constant contact")
            || lower.contains("timed out")
            || lower.contains("timeout") =>
        {
            "Constant Contact did not answer in time (a timeout or a network failure); it is retried."
        }
        _ if lower.contains("daily api budget") => {
            "The day's API budget was spent; deliveries resume after the reset."
        }
        _ => "Constant Contact did not take the signup; the details say why.",
    };
    match gave_up {
        Some(age) => {
            format!("Given up after {age} of retries. {sentence} Retry it once the cause is fixed.")
        }
        None => sentence.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn known_upstream_errors_read_as_sentences() {
        let cases = [
            (
                "Constant Contact answered 400 Bad Request: email_address invalid",
                "invalid (400)",
            ),
            ("Constant Contact answered 404 Not Found: list", "(404)"),
            (
                "Constant Contact answered 409 Conflict: x",
                "conflict (409)",
            ),
            (
                "Constant Contact answered 503 Service Unavailable: down",
                "server error (5xx)",
            ),
            (
                "no answer from Constant Contact: operation timed out",
                "did not answer in time",
            ),
            ("something new", "the details say why"),
        ];
        for (raw, expected) in cases {
            let words = in_words(raw);
            assert!(words.contains(expected), "{raw} → {words}");
        }
        let dead = in_words("gave up after 3days: Constant Contact answered 502 Bad Gateway: x");
        assert!(dead.starts_with("Given up after 3days"), "{dead}");
        assert!(dead.contains("server error"), "{dead}");
    }
}
