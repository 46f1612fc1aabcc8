//! The two databases the store runs on, and what differs between them: how to connect, the
//! session settings, the SQL the dialects spell differently, the migrations, and SQLite's
//! one-process rule.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::migrate::Migrator;

pub use crate::domain::{Backend, DatabaseUrl};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// What the store does differently on each backend.
impl Backend {
    pub(super) fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATOR,
            Self::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// The URL handed to the driver. A SQLite file is created when missing (the driver's own
    /// default is to refuse), unless the URL already says how to open it.
    pub(super) fn connect_url(self, url: &str) -> String {
        match self {
            Self::Sqlite if !url.contains("mode=") => {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}mode=rwc")
            }
            _ => url.to_owned(),
        }
    }

    /// Statements run on every new connection. `busy_timeout` bounds how long a statement waits
    /// for a lock on either backend, so a stuck writer becomes an error (503), never a hang.
    pub(super) fn session_settings(self, busy_timeout: Duration) -> Vec<String> {
        let millis = busy_timeout.as_millis().max(1);
        match self {
            Self::Sqlite => vec![
                "pragma journal_mode = wal".into(),
                // FULL: a commit is on disk, not only in the WAL's page cache, when it returns.
                "pragma synchronous = full".into(),
                format!("pragma busy_timeout = {millis}"),
                "pragma foreign_keys = on".into(),
            ],
            Self::Postgres => vec![
                format!("set lock_timeout = {millis}"),
                // Times are unix milliseconds everywhere; UTC only matters for readers of the
                // database itself.
                "set time zone 'UTC'".into(),
            ],
        }
    }

    /// Counts ccbridge's migration table (1 once a database was set up, 0 before).
    pub(super) fn migrations_table_count(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "select count(*) from sqlite_master where type = 'table' and name = '_sqlx_migrations'"
            }
            Self::Postgres => {
                "select count(*) from information_schema.tables \
                 where table_schema = current_schema() and table_name = '_sqlx_migrations'"
            }
        }
    }

    /// Opens a write transaction. SQLite's `immediate` takes the write lock at once, waiting up to
    /// the busy timeout, instead of failing on the first write halfway through.
    pub(super) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "begin immediate",
            Self::Postgres => "begin",
        }
    }

    /// The two-argument maximum: SQLite's scalar `max`, PostgreSQL's `greatest`.
    pub(super) fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "max",
            Self::Postgres => "greatest",
        }
    }

    /// Appended to a `select` whose rows the transaction goes on to change: PostgreSQL locks
    /// them (a concurrent writer waits); SQLite's write transaction is exclusive already.
    pub(super) fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " for update",
        }
    }
}

/// SQLite serves one process: a second one would run its own delivery worker, refresh the token
/// set on its own and keep its own rate limits. This exclusive lock on a file next to the
/// database makes a second `serve` on the same file refuse to start. The operating system drops
/// the lock when the process exits, however it exits.
#[derive(Debug)]
pub struct SingleProcessLock {
    _file: File,
}

impl SingleProcessLock {
    /// Take the lock for the SQLite database at `url`; `Ok(None)` for other backends.
    pub fn acquire(url: &DatabaseUrl) -> Result<Option<Self>, String> {
        if url.backend() != Backend::Sqlite {
            return Ok(None);
        }
        let db = sqlite_path(url.expose());
        let lock_path = lock_path(&db);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| unusable_place(url, &db, &lock_path, &e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Err(format!(
                "another ccbridge process is already serving the SQLite database {} \
                 (it holds {}). SQLite serves one process; to run several replicas, \
                 use PostgreSQL (database.url = \"postgres://…\")",
                db.display(),
                lock_path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", lock_path.display())),
        }
    }
}

/// Why the SQLite database's directory cannot be used, naming `database.url` and what to change.
fn unusable_place(
    url: &DatabaseUrl,
    db: &Path,
    lock_path: &Path,
    error: &std::io::Error,
) -> String {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match error.kind() {
        std::io::ErrorKind::NotFound => format!(
            "the directory {} of the SQLite database (database.url = {url}) does not exist: \
             create it (in Docker: mount a volume there) or point database.url elsewhere",
            dir.display()
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "ccbridge may not write in {}, the directory of the SQLite database (database.url = \
             {url}){}: make it writable by the user ccbridge runs as (in Docker: the volume's \
             owner must be that user, e.g. `chown` it)",
            dir.display(),
            owner(dir)
        ),
        _ => format!("cannot open the lock file {}: {error}", lock_path.display()),
    }
}

/// ", which belongs to uid N" where that can be read.
fn owner(dir: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if let Ok(meta) = std::fs::metadata(dir) {
            return format!(", which belongs to uid {}", meta.uid());
        }
    }
    let _ = dir;
    String::new()
}

/// The file a `sqlite:` URL points at (relative paths are relative to the working directory),
/// read the way the driver reads it: from the URL as normalised by the URL parser (`a/../b`
/// becomes `b`), with percent-escapes decoded.
pub fn sqlite_path(url: &str) -> PathBuf {
    let normalised = url::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.to_string());
    let rest = normalised.strip_prefix("sqlite:").unwrap_or(&normalised);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    PathBuf::from(decoded.as_ref())
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Filesystem types whose locking SQLite cannot rely on (its documentation warns against them:
/// WAL needs shared memory on one host, and network locks are often broken).
const NETWORK_FILESYSTEMS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
    "lustre",
    "gpfs",
    "fuse.sshfs",
    "fuse.s3fs",
    "fuse.rclone",
    "fuse.gcsfuse",
    "fuse.juicefs",
    "virtiofs",
];

/// The network filesystem type holding `path`, judged from a `/proc/mounts` listing: the type of
/// the longest mount point that contains it.
pub fn network_filesystem(mounts: &str, path: &Path) -> Option<String> {
    let fstype = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount_point = unescape_mount_path(fields.next()?);
            let fstype = fields.next()?;
            path.starts_with(&mount_point)
                .then(|| (mount_point.as_os_str().len(), fstype.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fstype)| fstype)?;
    NETWORK_FILESYSTEMS
        .contains(&fstype.as_str())
        .then_some(fstype)
}

/// `/proc/mounts` escapes spaces and a few other bytes as octal (`\040`).
fn unescape_mount_path(raw: &str) -> PathBuf {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if let Ok(byte) = u8::from_str_radix(&digits, 8) {
                out.push(char::from(byte));
                chars.nth(2);
                continue;
            }
        }
        out.push(c);
    }
    PathBuf::from(out)
}

/// Warn when the SQLite database at `url` sits on a network filesystem (Linux only; elsewhere
/// nothing is checked). Returns the filesystem type when it does.
pub fn warn_if_network_filesystem(url: &DatabaseUrl) -> Option<String> {
    let db = sqlite_path(url.expose());
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = dir.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let fstype = network_filesystem(&mounts, &dir)?;
    tracing::warn!(
        database = %db.display(),
        filesystem = %fstype,
        "the SQLite database is on a network filesystem: its locking and WAL are not reliable there \
         and signups may be lost or corrupted. Keep it on a local disk, or use PostgreSQL"
    );
    Some(fstype)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
overlay / overlay rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
/dev/sda1 /data ext4 rw,relatime 0 0
nas:/export /data/shared nfs4 rw,relatime 0 0
//server/share /mnt/my\\040files cifs rw 0 0
";

    #[test]
    fn sqlite_files_are_created_unless_the_url_says_otherwise() {
        let b = Backend::Sqlite;
        assert_eq!(b.connect_url("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            b.connect_url("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            b.connect_url("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(
            Backend::Postgres.connect_url("postgres://h/d"),
            "postgres://h/d"
        );
    }

    #[test]
    fn sqlite_paths_come_from_the_url() {
        assert_eq!(
            sqlite_path("sqlite://ccbridge.db"),
            Path::new("ccbridge.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///data/c.db?mode=rwc"),
            Path::new("/data/c.db")
        );
        assert_eq!(sqlite_path("sqlite:c.db"), Path::new("c.db"));
        assert_eq!(sqlite_path("sqlite://data/../c.db"), Path::new("data/c.db"));
        assert_eq!(
            sqlite_path("sqlite:///my%20data/c.db"),
            Path::new("/my data/c.db")
        );
        assert_eq!(
            lock_path(Path::new("/data/c.db")),
            Path::new("/data/c.db.lock")
        );
    }

    #[test]
    fn network_filesystems_are_recognised_by_the_innermost_mount() {
        let nfs = network_filesystem(MOUNTS, Path::new("/data/shared/ccbridge"));
        assert_eq!(nfs.as_deref(), Some("nfs4"));
        assert_eq!(network_filesystem(MOUNTS, Path::new("/data/local")), None);
        assert_eq!(network_filesystem(MOUNTS, Path::new("/srv")), None);
        let spaced = network_filesystem(MOUNTS, Path::new("/mnt/my files/db"));
        assert_eq!(spaced.as_deref(), Some("cifs"));
        // A path that merely shares a prefix with a mount point is not under it.
        assert_eq!(network_filesystem(MOUNTS, Path::new("/data/sharedx")), None);
    }

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("c.db").display())).unwrap();
        let first = SingleProcessLock::acquire(&url).unwrap();
        assert!(first.is_some());
        let refused = SingleProcessLock::acquire(&url).unwrap_err();
        assert!(refused.contains("PostgreSQL"), "{refused}");
        drop(first);
        assert!(SingleProcessLock::acquire(&url).unwrap().is_some());
        assert!(
            SingleProcessLock::acquire(&DatabaseUrl::parse("postgres://h/d").unwrap())
                .unwrap()
                .is_none()
        );
    }
}
