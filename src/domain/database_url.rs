//! The database ccbridge keeps its data in, as `database.url` names it: parsed once, at load,
//! into the backend it names; shown only with its password replaced (a PostgreSQL URL may carry
//! one), in the way lldap's `DatabaseUrl` is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which database a `database.url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One process, one file: the embedded default.
    Sqlite,
    /// Shared by several replicas.
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// Whether several processes may share this database. Only then may a claim or lease left
    /// behind belong to a live process rather than to a crashed predecessor.
    pub fn is_shared(self) -> bool {
        self == Self::Postgres
    }
}

/// A usable `database.url`: a `sqlite:` file or a `postgres://` server. Its `Debug`, `Display`
/// and `Serialize` replace the password; only [`DatabaseUrl::expose`] gives the URL itself, for
/// the driver.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Accepts the URLs the store can open, with a message naming the fix otherwise. The URL must
    /// parse as a URL, as the driver will parse it.
    pub fn parse(url: &str) -> Result<Self, String> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(
                "database.url must start with sqlite: (one process) or postgres:// (several replicas)"
                    .into(),
            );
        };
        url::Url::parse(url).map_err(|e| {
            format!(
                "database.url is not a valid URL ({e}); percent-encode special characters \
                 such as / ? # @ : or spaces, in a password as %2F %3F %23 %40 %3A %20"
            )
        })?;
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(
                "an in-memory database would lose every signup on restart; use a file".into(),
            );
        }
        Ok(Self {
            url: url.to_owned(),
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL itself, password included: for the database driver only.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The URL with any password replaced, for logs and error messages. A URL that does not
    /// parse shows only its scheme: its parts cannot be told apart.
    pub fn redacted(&self) -> String {
        let Ok(mut parsed) = url::Url::parse(&self.url) else {
            let scheme = self.url.split(':').next().unwrap_or("");
            return format!("{scheme}:(unreadable URL, not shown)");
        };
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("redacted"));
        }
        if parsed.query_pairs().any(|(key, _)| key == "password") {
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(key, value)| {
                    let value = if key == "password" {
                        "redacted".to_owned()
                    } else {
                        value.into_owned()
                    };
                    (key.into_owned(), value)
                })
                .collect();
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        parsed.to_string()
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        Self::parse(url)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let url = String::deserialize(d)?;
        Self::parse(&url).map_err(serde::de::Error::custom)
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(url: &str) -> Result<Backend, String> {
        DatabaseUrl::parse(url).map(|u| u.backend())
    }

    #[test]
    fn backends_are_chosen_by_scheme() {
        assert_eq!(backend("sqlite://x.db"), Ok(Backend::Sqlite));
        assert_eq!(backend("sqlite:x.db"), Ok(Backend::Sqlite));
        assert_eq!(backend("postgres://h/db"), Ok(Backend::Postgres));
        assert_eq!(backend("postgresql://h/db"), Ok(Backend::Postgres));
        let refused = backend("mysql://h/db").unwrap_err();
        assert!(refused.contains("postgres://"), "{refused}");
        let unreadable = backend("postgres://u:a/b@db/x").unwrap_err();
        assert!(unreadable.contains("percent-encode"), "{unreadable}");
        assert!(!unreadable.contains("a/b"), "{unreadable}");
        let memory = backend("sqlite::memory:").unwrap_err();
        assert!(memory.contains("in-memory"), "{memory}");
    }

    fn redacted(url: &str) -> String {
        DatabaseUrl {
            url: url.to_owned(),
            backend: Backend::Postgres,
        }
        .redacted()
    }

    #[test]
    fn passwords_never_reach_a_message() {
        for url in [
            "postgres://ccbridge:s3cret@db:5432/ccbridge",
            "postgres://ccbridge:s3/cr?et@db:5432/ccbridge",
            "postgres://ccbridge@db:5432/ccbridge?sslmode=require&password=s3cret",
        ] {
            let shown = redacted(url);
            assert!(!shown.contains("s3"), "{shown}");
        }
        assert_eq!(
            redacted("postgres://u:s3/cr@db/x"),
            "postgres:(unreadable URL, not shown)"
        );
        assert!(
            redacted("postgres://u@db/x?sslmode=require&password=p")
                .ends_with("?sslmode=require&password=redacted")
        );
        let shown = redacted("postgres://ccbridge:s3cret@db:5432/ccbridge");
        assert_eq!(shown, "postgres://ccbridge:redacted@db:5432/ccbridge");
        assert_eq!(redacted("sqlite://a.db"), "sqlite://a.db");
    }

    #[test]
    fn display_debug_and_serialize_hide_the_password() {
        let url = "postgres://ccbridge:s3cret@db:5432/ccbridge";
        let parsed = DatabaseUrl::parse(url).unwrap();
        for shown in [
            parsed.to_string(),
            format!("{parsed:?}"),
            toml::Value::try_from(&parsed).unwrap().to_string(),
        ] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        assert_eq!(parsed.expose(), url);
    }
}
