//! Where modeldeck keeps its state, and the server settings that live with it.
//!
//! The data directory is chosen by, in order: `--data-dir DIR`, `MODELDECK_DATA_DIR`, then the
//! platform's data directory (`~/.local/share/modeldeck` on Linux). It holds everything a
//! server needs to come back exactly as it was: the database, the artifacts, the lock, and an
//! optional `config.toml` with server settings. Console preferences (keys, theme) are a
//! person's, not a server's, and live apart in `~/.config/modeldeck/console.toml`.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no data directory: $HOME is not set; pass --data-dir DIR or set MODELDECK_DATA_DIR")]
    NoHome,
    #[error("cannot create data directory {path}: {source}; pass a writable --data-dir DIR")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("{path} exists but is not a directory; pass another --data-dir DIR")]
    NotADir { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "cannot listen on {addr} for the {listener}: {reason}; choose another address with --{listener} ADDR or `{listener} = \"…\"` in config.toml"
    )]
    Bind {
        addr: SocketAddr,
        listener: &'static str,
        reason: String,
    },
}

/// Binds one of the server's listeners (`listener` is `gateway` or `control`, which is also
/// the flag and the config key that change it), with an error that says how to fix a clash.
pub fn bind(
    addr: SocketAddr,
    listener: &'static str,
) -> Result<std::net::TcpListener, ConfigError> {
    std::net::TcpListener::bind(addr).map_err(|e| ConfigError::Bind {
        addr,
        listener,
        reason: match e.kind() {
            io::ErrorKind::AddrInUse => {
                "the address is already in use by another program".to_string()
            }
            io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need privileges)".to_string()
            }
            _ => e.to_string(),
        },
    })
}

/// The data directory, created with owner-only permissions.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Resolves the directory (`explicit` is `--data-dir` or `MODELDECK_DATA_DIR`, already merged
    /// by the CLI) and creates it if needed.
    pub fn open(explicit: Option<&Path>) -> Result<DataDir, ConfigError> {
        let root = match explicit {
            Some(p) => p.to_path_buf(),
            None => directories::ProjectDirs::from("", "", "modeldeck")
                .ok_or(ConfigError::NoHome)?
                .data_dir()
                .to_path_buf(),
        };
        if root.exists() && !root.is_dir() {
            return Err(ConfigError::NotADir { path: root });
        }
        if !root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&root)
                .map_err(|source| ConfigError::CreateDir {
                    path: root.clone(),
                    source,
                })?;
            // `recursive` applies the mode to every directory it creates, but the umask may
            // have narrowed it further or a parent may have existed: pin the leaf exactly.
            fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).map_err(|source| {
                ConfigError::CreateDir {
                    path: root.clone(),
                    source,
                }
            })?;
        }
        Ok(DataDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("modeldeck.db")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub fn artifacts(&self) -> PathBuf {
        self.root.join("artifacts")
    }

    /// Scratch space for imports in progress; on the same file system as `artifacts/` so that
    /// a finished import is published with one rename.
    pub fn staging(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The running server's addresses (`{gateway, control, pid, started_at, version}`).
    pub fn server_file(&self) -> PathBuf {
        self.root.join("server.json")
    }

    /// The local admin token for the control API (mode 0600).
    pub fn token_file(&self) -> PathBuf {
        self.root.join("control.token")
    }

    pub fn settings_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The data directory's id: 128 random bits written once (by the first server or command
    /// that owns it), reported by its server, so a client can tell this directory's server from
    /// another one that took its port.
    pub fn id_file(&self) -> PathBuf {
        self.root.join("id")
    }

    /// The id, if one has been written.
    pub fn id(&self) -> Option<String> {
        fs::read_to_string(self.id_file())
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    }

    /// The id, written first if there is none yet (call it while owning the directory).
    pub fn ensure_id(&self) -> Result<String, ConfigError> {
        if let Some(id) = self.id() {
            return Ok(id);
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| ConfigError::Invalid {
            path: self.id_file(),
            message: format!("the OS random source failed: {e}"),
        })?;
        let id = hex::encode(bytes);
        let path = self.id_file();
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, format!("{id}\n"))
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
        Ok(id)
    }

    /// Reads `config.toml`; a missing file means the defaults.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let path = self.settings_file();
        match fs::read_to_string(&path) {
            Ok(text) => Settings::parse(&text).map_err(|message| ConfigError::Invalid {
                path: path.clone(),
                message,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }
}

/// Server settings from `DATA_DIR/config.toml`. Every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Data plane (prediction gateway) address; TF Serving's REST port by default.
    pub gateway: SocketAddr,
    /// Control API address.
    pub control: SocketAddr,
    /// Services get the virtual host `<service>.<domain>`.
    pub domain: String,
    /// Shown in the console; `prod` makes destructive actions ask for the typed name.
    pub environment: String,
    pub import: ImportSettings,
    pub limits: Limits,
    pub log: LogSettings,
    pub monitor: MonitorSettings,
}

/// How long the monitor keeps history, and the threshold levels services follow unless they
/// set their own.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSettings {
    /// Hours one-minute rollups are kept before they are folded into ten-minute ones.
    pub minute_retention_hours: u64,
    /// Days ten-minute rollups are kept.
    pub ten_minute_retention_days: u64,
    pub thresholds: crate::domain::Thresholds,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            minute_retention_hours: 48,
            ten_minute_retention_days: 30,
            thresholds: crate::domain::Thresholds::default(),
        }
    }
}

/// What the server log records besides changes, starts and stops.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// One line per gateway request (client address, method, path, host, status, the version
    /// that answered, microseconds). Off by default: at thousands of requests a second it is
    /// most of the log.
    pub access: bool,
}

/// What one client may cost the server: how long it may take to send, how much it may send,
/// and how many connections each listener keeps open. The defaults let an honest client on a
/// slow link through and close a stalled or trickling one within seconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Seconds a client has to send its request headers (also how long an idle keep-alive
    /// connection stays open).
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request body, extended by one second for every
    /// `min_body_rate` bytes received: a body must keep up that average rate.
    pub body_timeout_secs: u64,
    /// Bytes per second a slow sender must sustain (0: the body deadline is not extended).
    pub min_body_rate: u64,
    /// Largest prediction request body, in bytes (413 above it, before any of it is read).
    pub max_body_bytes: u64,
    /// Connections the gateway keeps open at once; further clients wait to be accepted.
    pub gateway_connections: usize,
    /// Connections the control API keeps open at once: apart from the gateway's, so the
    /// console and the CLI get through while the gateway is saturated.
    pub control_connections: usize,
    /// Seconds a client may leave its answer unread (the socket full) before the connection
    /// is closed.
    pub send_timeout_secs: u64,
    /// Seconds a stopping server waits for requests in progress.
    pub drain_secs: u64,
}

/// Limits on model imports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportSettings {
    /// Largest artifact accepted from any source, in bytes.
    pub max_bytes: u64,
    /// Seconds to wait for a connection to an HTTP or S3 source.
    pub connect_timeout_secs: u64,
    /// Seconds a download may stall without receiving a byte before it is abandoned.
    pub read_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            gateway: SocketAddr::from(([127, 0, 0, 1], 8501)),
            control: SocketAddr::from(([127, 0, 0, 1], 8502)),
            domain: "modeldeck.local".to_string(),
            environment: "dev".to_string(),
            import: ImportSettings::default(),
            limits: Limits::default(),
            log: LogSettings::default(),
            monitor: MonitorSettings::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            min_body_rate: 8 << 10,
            max_body_bytes: 16 << 20,
            gateway_connections: 4096,
            control_connections: 256,
            send_timeout_secs: 30,
            drain_secs: 30,
        }
    }
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            max_bytes: 4 << 30,
            connect_timeout_secs: 10,
            read_timeout_secs: 30,
        }
    }
}

impl Settings {
    pub fn parse(text: &str) -> Result<Settings, String> {
        let settings: Settings = toml::from_str(text).map_err(|e| e.to_string())?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if self.domain.len() > 200 || !self.domain.split('.').all(label_ok) {
            return Err(format!(
                "domain {:?} is not a DNS name: use lowercase labels separated by dots, e.g. \"modeldeck.local\"",
                self.domain
            ));
        }
        if !label_ok(&self.environment) {
            return Err(format!(
                "environment {:?} must be a short lowercase word such as \"dev\", \"staging\" or \"prod\"",
                self.environment
            ));
        }
        // Port 0 means "any free port", which differs for each listener.
        if self.gateway == self.control && self.gateway.port() != 0 {
            return Err(format!(
                "gateway and control both use {}: give them different ports",
                self.gateway
            ));
        }
        if self.import.max_bytes == 0
            || self.import.read_timeout_secs == 0
            || self.import.connect_timeout_secs == 0
        {
            return Err(
                "import.max_bytes, import.connect_timeout_secs and import.read_timeout_secs must be above 0"
                    .into(),
            );
        }
        let m = &self.monitor;
        if !(1..=24 * 365).contains(&m.minute_retention_hours)
            || !(1..=400).contains(&m.ten_minute_retention_days)
            || m.ten_minute_retention_days * 24 < m.minute_retention_hours
        {
            return Err("monitor.minute_retention_hours must be 1 to 8760 and monitor.ten_minute_retention_days 1 to 400, covering at least the minute tier".into());
        }
        m.thresholds
            .check()
            .map_err(|e| format!("monitor.thresholds.{e}"))?;
        self.limits.validate()
    }
}

impl Limits {
    fn validate(&self) -> Result<(), String> {
        let ranges: [(&str, u64, u64, u64); 7] = [
            ("header_timeout_secs", self.header_timeout_secs, 1, 3600),
            ("body_timeout_secs", self.body_timeout_secs, 1, 3600),
            ("max_body_bytes", self.max_body_bytes, 1024, 1 << 30),
            (
                "gateway_connections",
                self.gateway_connections as u64,
                1,
                1 << 20,
            ),
            (
                "control_connections",
                self.control_connections as u64,
                1,
                1 << 20,
            ),
            ("send_timeout_secs", self.send_timeout_secs, 1, 3600),
            ("drain_secs", self.drain_secs, 0, 3600),
        ];
        // A rate of a few bytes a second would stretch the deadline without end: 0 turns the
        // extension off, anything else must be a rate a real sender keeps up.
        if self.min_body_rate != 0 && !(256..=1 << 30).contains(&self.min_body_rate) {
            return Err(format!(
                "limits.min_body_rate is {}: use 0 (no extension) or bytes per second from 256 to 1073741824",
                self.min_body_rate
            ));
        }
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(format!(
                    "limits.{key} is {value}: use a whole number from {min} to {max}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_means_defaults() {
        let s = Settings::parse("").unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.gateway.to_string(), "127.0.0.1:8501");
        assert_eq!(s.control.to_string(), "127.0.0.1:8502");
        assert_eq!(s.domain, "modeldeck.local");
    }

    #[test]
    fn keys_override_defaults() {
        let s = Settings::parse(
            "gateway = \"0.0.0.0:9000\"\ndomain = \"ml.example\"\nenvironment = \"prod\"\n[import]\nmax_bytes = 1024\n",
        )
        .unwrap();
        assert_eq!(s.gateway.port(), 9000);
        assert_eq!(s.domain, "ml.example");
        assert_eq!(s.environment, "prod");
        assert_eq!(s.import.max_bytes, 1024);
        assert_eq!(s.import.read_timeout_secs, 30);
        let s = Settings::parse("[limits]\nbody_timeout_secs = 3\nmin_body_rate = 0\n").unwrap();
        assert_eq!(s.limits.body_timeout_secs, 3);
        assert_eq!(s.limits.min_body_rate, 0);
        assert_eq!(s.limits.header_timeout_secs, 10);
    }

    #[test]
    fn limits_out_of_range_name_the_key_and_range() {
        let e = Settings::parse("[limits]\ngateway_connections = 0\n").unwrap_err();
        assert!(
            e.contains("limits.gateway_connections") && e.contains("1 to"),
            "{e}"
        );
        let e = Settings::parse("[limits]\nmax_body_bytes = 10\n").unwrap_err();
        assert!(e.contains("limits.max_body_bytes"), "{e}");
        let e = Settings::parse("[limits]\nmin_body_rate = 1\n").unwrap_err();
        assert!(
            e.contains("limits.min_body_rate") && e.contains("256"),
            "{e}"
        );
    }

    #[test]
    fn a_port_in_use_names_the_flag_to_change_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(addr, "gateway").unwrap_err().to_string();
        assert!(err.contains(&addr.to_string()), "{err}");
        assert!(
            err.contains("already in use") && err.contains("--gateway ADDR"),
            "{err}"
        );
        drop(taken);
        assert!(bind(addr, "gateway").is_ok());
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        let e = Settings::parse("gatway = \"127.0.0.1:1\"").unwrap_err();
        assert!(e.contains("gatway"), "{e}");
        let e = Settings::parse("domain = \"Bad_Domain\"").unwrap_err();
        assert!(e.contains("Bad_Domain"), "{e}");
        let e = Settings::parse("gateway = \"localhost\"").unwrap_err();
        assert!(e.contains("gateway"), "{e}");
        let e = Settings::parse("control = \"127.0.0.1:8501\"").unwrap_err();
        assert!(e.contains("different ports"), "{e}");
    }
}
