//! Values that come from users, each with a parsing constructor. Once a value has its type it
//! is valid everywhere; nothing downstream re-checks it. Error messages name the rule broken;
//! the field name is filled in by the caller (see [`crate::error::Validator`]).

use crate::ValidationError;

fn err(message: impl Into<String>) -> ValidationError {
    ValidationError::field("", message)
}

macro_rules! string_value {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

string_value!(
    /// `^[a-z0-9_-]{3,50}$`.
    Username
);
impl Username {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let ok = (3..=50).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(err(
                "must be 3 to 50 characters of lowercase letters, digits, '_' or '-'",
            ))
        }
    }
}

string_value!(
    /// An email address: one `@`, a non-empty local part, a domain with a dot; stored lowercase.
    Email
);
impl Email {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        let bad = || err("must be a valid email address");
        if s.len() > 254 || has_control(s) || s.contains(char::is_whitespace) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty() || domain.contains('@') || local.len() > 64 {
            return Err(bad());
        }
        DomainName::parse(domain).map_err(|_| bad())?;
        Ok(Self(s.to_ascii_lowercase()))
    }
}

/// A new password as typed: 8 to 72 bytes (bcrypt reads no further than 72).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(crate::SecretString);
impl Password {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.len() < 8 {
            return Err(err("must be at least 8 characters"));
        }
        if s.len() > 72 {
            return Err(err("must be at most 72 bytes"));
        }
        Ok(Self(crate::SecretString::new(s)))
    }
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// The rules of values users give, as the API's document states them: JSON Schema patterns,
/// written so that ECMA-262, Python and Rust's `regex` read them alike. Each parser below holds
/// to its pattern exactly, so a request the document allows is accepted and one it forbids is
/// refused (the contract check of `make test` tries both).
pub mod patterns {
    /// A display name (a project's, a team's, a token's): no control character, and no
    /// white space at either end (the characters `char::is_whitespace` and `char::is_control`
    /// name). Its length is given apart.
    pub const DISPLAY_NAME: &str = "^[^ \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f](?:[^\\x00-\\x1f\\x7f-\\x9f]*[^ \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f])?$";
    /// A description: any text but control characters (a new line and a tab are fine); at
    /// most 1000 characters.
    pub const DESCRIPTION: &str = "^[^\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]*$";
    /// An application's (or a database's) name: a DNS label of 2 to 63 characters.
    pub const RESOURCE_NAME: &str = "^[a-z][a-z0-9-]{0,61}[a-z0-9]$";
    /// An environment variable's name.
    pub const ENV_KEY: &str = "^[A-Z_][A-Z0-9_]{0,254}$";
    /// A path inside a container: absolute, not the root itself, no `..` segment, no control
    /// character (written segment by segment, as the pattern may not look ahead).
    pub const MOUNT_PATH: &str = concat!(
        "^/(?:",
        "(?:[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.|\\.[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\x00-\\x1f\\x7f-\\x9f]+)",
        "(?:/(?:[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.|\\.[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\x00-\\x1f\\x7f-\\x9f]+)?)*",
        "|(?:[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.|\\.[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\x00-\\x1f\\x7f-\\x9f]+)?",
        "(?:/(?:[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.|\\.[^./\\x00-\\x1f\\x7f-\\x9f][^/\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\x00-\\x1f\\x7f-\\x9f]+)?)+",
        ")$"
    );
    /// A username.
    pub const USERNAME: &str = "^[a-z0-9_-]{3,50}$";
    /// A commit id, SHA-1 or SHA-256.
    pub const COMMIT: &str = "^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$";
    /// A Docker volume's name.
    pub const VOLUME_NAME: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$";
    /// An HTTP path a check requests: `/`, then no white space or control character.
    pub const HTTP_PATH: &str = "^/[^ \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f]*$";
}

/// A name people read: `min` to `max` characters, no control character, no white space at
/// either end (refused, not trimmed: what is stored is what was sent).
fn display_name(s: &str, min: usize, max: usize) -> Result<String, ValidationError> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(err(format!("must be {min} to {max} characters")));
    }
    if has_control(s) {
        return Err(err("must not contain control characters"));
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(err("must not start or end with a space"));
    }
    Ok(s.to_owned())
}

string_value!(
    /// A team name: 3 to 100 characters, unique on the installation.
    TeamName
);
impl TeamName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        display_name(s, 3, 100).map(Self)
    }
}

string_value!(
    /// A project name: 3 to 100 characters, unique per owner.
    ProjectName
);
impl ProjectName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        display_name(s, 3, 100).map(Self)
    }
}

string_value!(
    /// Free text describing something: at most 1000 characters.
    Description
);
impl Description {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.chars().count() > 1000 {
            return Err(err("must be at most 1000 characters"));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(err("must not contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_value!(
    /// The name of an application or a database. It becomes part of Docker service, network and
    /// DNS names, so it is a DNS label: 2 to 63 characters of lowercase letters, digits and
    /// hyphens, starting with a letter and not ending with a hyphen.
    ResourceName
);
impl ResourceName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let b = s.as_bytes();
        let ok = (2..=63).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b[b.len() - 1] != b'-'
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(err("must be 2 to 63 lowercase letters, digits or '-', starting with a letter and not ending with '-'"))
        }
    }
}

string_value!(
    /// A Docker volume name, unique on the engine: `^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$`.
    VolumeName
);
impl VolumeName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let b = s.as_bytes();
        let ok = (2..=128).contains(&b.len())
            && b[0].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(err("must be 2 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit"))
        }
    }
}

string_value!(
    /// An environment variable name: `^[A-Z_][A-Z0-9_]*$`, at most 255 characters.
    EnvKey
);
impl EnvKey {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 255
            && (b[0].is_ascii_uppercase() || b[0] == b'_')
            && b.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(err("must match ^[A-Z_][A-Z0-9_]*$ (uppercase letters, digits and '_', not starting with a digit), at most 255 characters"))
        }
    }
}

string_value!(
    /// A fully qualified host name, stored lowercase: at most 253 characters, at least two labels
    /// of 1 to 63 letters, digits and hyphens (not at either end of a label), a top-level label
    /// that is not all digits (so no IP addresses). A leading `*.` makes it a wildcard.
    DomainName
);
impl DomainName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let lower = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wildcard, rest) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if lower.len() > 253 || rest.is_empty() {
            return Err(err("must be a host name of at most 253 characters"));
        }
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() < 2 {
            return Err(err("must have at least two labels, like example.com"));
        }
        for label in &labels {
            let b = label.as_bytes();
            let ok = (1..=63).contains(&b.len())
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
            if !ok {
                return Err(err(format!(
                    "label '{label}' must be 1 to 63 letters, digits or '-', not starting or ending with '-'"
                )));
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|c| c.is_ascii_digit()))
        {
            return Err(err("must be a host name, not an IP address"));
        }
        let _ = wildcard;
        Ok(Self(lower))
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }
}

/// How many copies of an application run: 0 (stopped) to 100.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "i64", try_from = "i64")]
pub struct Replicas(u32);
impl TryFrom<i64> for Replicas {
    type Error = ValidationError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::parse(n)
    }
}
impl From<Replicas> for i64 {
    fn from(v: Replicas) -> i64 {
        i64::from(v.0)
    }
}
impl Replicas {
    pub const MAX: u32 = 100;

    pub fn parse(n: i64) -> Result<Self, ValidationError> {
        if n < 0 {
            return Err(err("must not be negative"));
        }
        if n > i64::from(Self::MAX) {
            return Err(err(format!("must be at most {}", Self::MAX)));
        }
        Ok(Self(n as u32))
    }
    pub fn get(&self) -> u32 {
        self.0
    }
}
impl Default for Replicas {
    fn default() -> Self {
        Self(1)
    }
}

string_value!(
    /// A git branch or tag name, by the rules of `git check-ref-format --branch`: no spaces,
    /// control characters, `..`, `~^:?*[\`, `@{`, leading `-` or `/`, trailing `/`, `.` or
    /// `.lock`. Passed to git as data, never through a shell.
    BranchName
);
impl BranchName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| err(format!("is not a valid branch name: {why}"));
        if s.is_empty() || s.len() > 255 {
            return Err(bad("must be 1 to 255 characters"));
        }
        if s.starts_with('-') || s.starts_with('/') || s.ends_with('/') || s.ends_with('.') {
            return Err(bad("must not start with '-' or '/' or end with '/' or '.'"));
        }
        if s.contains("..") || s.contains("@{") || s.contains("//") || s == "@" {
            return Err(bad("must not contain '..', '//' or '@{'"));
        }
        if s.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(
                    c,
                    '~' | '^'
                        | ':'
                        | '?'
                        | '*'
                        | '['
                        | '\\'
                        | ';'
                        | '$'
                        | '`'
                        | '|'
                        | '&'
                        | '<'
                        | '>'
                        | '"'
                        | '\''
                )
        }) {
            return Err(bad(
                "must not contain spaces, control characters or any of ~^:?*[\\;$`|&<>\"'",
            ));
        }
        if s.split('/')
            .any(|c| c.starts_with('.') || c.ends_with(".lock"))
        {
            return Err(bad("no component may start with '.' or end with '.lock'"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_value!(
    /// A full 40-character (SHA-1) or 64-character (SHA-256) commit id, lowercase hex.
    CommitSha
);
impl CommitSha {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if (s.len() == 40 || s.len() == 64) && s.bytes().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(err(
                "must be a full commit id: 40 or 64 hexadecimal characters",
            ))
        }
    }
}

string_value!(
    /// Where a repository lives: `https://`, `http://`, `ssh://`, `git://` or `file://` URLs,
    /// scp-like `user@host:path`, or an absolute local path. Credentials never belong in it;
    /// a URL carrying a user name and password is rejected (they go in the credentials field).
    RepositoryUrl
);
impl RepositoryUrl {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(err("must be a repository URL without spaces"));
        }
        if s.starts_with('-') {
            return Err(err("must not start with '-'"));
        }
        if let Some((scheme, rest)) = s.split_once("://") {
            if !matches!(scheme, "https" | "http" | "ssh" | "git" | "file") {
                return Err(err("scheme must be https, http, ssh, git or file"));
            }
            let authority = rest.split('/').next().unwrap_or("");
            if scheme != "file" && authority.is_empty() {
                return Err(err("must name a host"));
            }
            if matches!(scheme, "https" | "http") && authority.contains('@') {
                return Err(err(
                    "must not contain credentials; put a token in the credentials field",
                ));
            }
            return Ok(Self(s.to_owned()));
        }
        if s.starts_with('/') {
            return Ok(Self(s.to_owned()));
        }
        // scp-like syntax: [user@]host:path
        if let Some((host, path)) = s.split_once(':') {
            if !host.is_empty() && !path.is_empty() && !host.contains('/') {
                return Ok(Self(s.to_owned()));
            }
        }
        Err(err(
            "must be an https, ssh, git or file URL, user@host:path, or an absolute path",
        ))
    }

    /// The path of a repository on this machine (`file://` or an absolute path); `None` for
    /// one reached over the network.
    pub fn local_path(&self) -> Option<&str> {
        let s = self.0.as_str();
        if let Some(rest) = s.strip_prefix("file://") {
            // file:///path, or file://localhost/path.
            return Some(rest.strip_prefix("localhost").unwrap_or(rest));
        }
        s.starts_with('/').then_some(s)
    }

    /// The host (with its port, if it names one), lower case, that a network repository is
    /// fetched from: what its credentials are bound to. `None` for a local one.
    pub fn host(&self) -> Option<String> {
        if self.local_path().is_some() {
            return None;
        }
        let s = self.0.as_str();
        let authority = match s.split_once("://") {
            Some((_, rest)) => rest.split('/').next().unwrap_or(""),
            // scp-like: [user@]host:path
            None => s.split_once(':').map_or("", |(host, _)| host),
        };
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        Some(host.to_ascii_lowercase())
    }

    /// Whether berth may fetch this repository: any network repository; a local one (`file://`
    /// or a path) only under one of `local_roots`, the directories an admin allowed (none by
    /// default), compared by whole path components. The same rule holds for every submodule.
    pub fn check_fetchable(
        &self,
        local_roots: &[std::path::PathBuf],
    ) -> Result<(), ValidationError> {
        let Some(path) = self.local_path() else {
            return Ok(());
        };
        let path = std::path::Path::new(path);
        let normal = path.is_absolute()
            && path.components().all(|c| {
                !matches!(
                    c,
                    std::path::Component::ParentDir | std::path::Component::CurDir
                )
            });
        if normal && local_roots.iter().any(|root| path.starts_with(root)) {
            return Ok(());
        }
        Err(err(
            "must be a repository reached over the network (https, ssh, git); repositories on berth's own machine are refused",
        ))
    }

    /// A submodule's URL as git resolves it: `./x` and `../x` relative to this repository's
    /// URL (each `../` takes one path component away), anything else as it is.
    pub fn resolve_submodule(&self, url: &str) -> Result<Self, ValidationError> {
        if !(url.starts_with("./") || url.starts_with("../")) {
            return Self::parse(url);
        }
        let mut base = self.0.trim_end_matches('/').to_owned();
        // Where the path begins: after the authority of a URL, after the ':' of scp-like.
        let path_start = match base.find("://") {
            Some(i) => base[i + 3..].find('/').map_or(base.len(), |j| i + 3 + j),
            None if base.starts_with('/') => 0,
            None => base.find(':').map_or(0, |i| i + 1),
        };
        let mut rest = url;
        loop {
            if let Some(r) = rest.strip_prefix("./") {
                rest = r;
            } else if let Some(r) = rest.strip_prefix("../") {
                rest = r;
                match base.rfind('/').filter(|&i| i >= path_start) {
                    Some(i) => base.truncate(i),
                    None if base.len() > path_start => base.truncate(path_start),
                    None => return Err(err("climbs above the repository's host")),
                }
            } else {
                break;
            }
        }
        let sep = if base.ends_with(':') { "" } else { "/" };
        Self::parse(&format!("{base}{sep}{rest}"))
    }
}

string_value!(
    /// A Docker image reference, `[registry/]name[:tag][@digest]`, lowercase repository path.
    ImageReference
);
impl ImageReference {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = || err("must be an image reference like registry.example.com/team/app:1.2");
        if s.is_empty() || s.len() > 512 || s.starts_with('-') {
            return Err(bad());
        }
        let (path, tag, digest) = split_reference(s);
        if let Some(d) = digest {
            let (algo, hex) = d.split_once(':').ok_or_else(bad)?;
            if algo.is_empty() || hex.len() < 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
        }
        if let Some(tag) = tag {
            let ok = (1..=128).contains(&tag.len())
                && tag
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
                && !tag.starts_with(['.', '-']);
            if !ok {
                return Err(bad());
            }
        }
        let mut components = path.split('/');
        let first = components.next().ok_or_else(bad)?;
        let first_is_registry = path.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        let ok_component = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
                })
                && c.as_bytes()[0].is_ascii_alphanumeric()
        };
        if !first_is_registry && !ok_component(first) {
            return Err(bad());
        }
        if !components.all(ok_component) {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// Whether an application may run this image, or build `FROM` it: a registry reference
    /// (with a tag or a digest, or neither for `:latest`). Refused: an image id (`sha256:…`), a
    /// bare run of hex digits that the engine would read as an id prefix, and berth's own build
    /// repositories (`berth/…`), which hold other applications' code and build secrets; an
    /// application's own builds are named by berth, never by a user.
    pub fn check_runnable(&self) -> Result<(), ValidationError> {
        let (path, tag, digest) = split_reference(&self.0);
        let path = ["docker.io/", "index.docker.io/", "registry-1.docker.io/"]
            .iter()
            .find_map(|p| path.strip_prefix(p))
            .unwrap_or(path);
        let hex = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit());
        if path == "sha256" || (tag.is_none() && digest.is_none() && hex(path)) {
            return Err(err(
                "must name an image by repository and tag, not by an image id",
            ));
        }
        if path.starts_with("berth/") {
            return Err(err(
                "berth/ holds the images berth builds; an application names images of a registry",
            ));
        }
        Ok(())
    }

    /// The reference as the engine is asked for it: with `:latest` when it names neither a tag
    /// nor a digest, so the engine never takes it for an image id prefix.
    pub fn for_engine(&self) -> String {
        match split_reference(&self.0) {
            (_, None, None) => format!("{}:latest", self.0),
            _ => self.0.clone(),
        }
    }

    /// A reference an application may run: [`Self::parse`], then [`Self::check_runnable`].
    pub fn parse_runnable(s: &str) -> Result<Self, ValidationError> {
        let image = Self::parse(s)?;
        image.check_runnable()?;
        Ok(image)
    }
}

/// `[registry/]path[:tag][@digest]` split into its path, tag and digest: the tag follows the
/// last ':' that comes after the last '/'.
fn split_reference(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (name, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(&name[last_slash + i + 1..]),
            digest,
        ),
        None => (name, None, digest),
    }
}

string_value!(
    /// A path inside a checkout (Dockerfile, build context): relative, normalised, with no `..`
    /// component. Whether it escapes through a symlink is checked where the files are.
    RelativePath
);
impl RelativePath {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.is_empty() || s.len() > 1024 || has_control(s) {
            return Err(err("must be a relative path of 1 to 1024 characters"));
        }
        if s.starts_with('/') || s.starts_with('\\') {
            return Err(err("must be relative to the repository, not absolute"));
        }
        let mut parts = Vec::new();
        for part in s.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(err("must stay inside the repository (no '..')")),
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return Ok(Self(".".to_owned()));
        }
        Ok(Self(parts.join("/")))
    }
}

string_value!(
    /// An absolute path inside a container where a volume is mounted.
    MountPath
);
impl MountPath {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if !s.starts_with('/') || s.chars().count() > 1024 || has_control(s) {
            return Err(err("must be an absolute path inside the container"));
        }
        if s.split('/').any(|p| p == "..") {
            return Err(err("must not contain '..'"));
        }
        if s == "/" {
            return Err(err("must not be the container's root"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_value!(
    /// A short label: a token's name, or the `origin` of a service token (`github`, `ci`).
    /// 1 to 100 characters, no control characters.
    Label
);
impl Label {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        display_name(s, 1, 100).map(Self)
    }
}

/// The size of a volume in GiB: more than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "i64", try_from = "i64")]
pub struct SizeGb(u32);
impl TryFrom<i64> for SizeGb {
    type Error = ValidationError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::parse(n)
    }
}
impl From<SizeGb> for i64 {
    fn from(v: SizeGb) -> i64 {
        i64::from(v.0)
    }
}
impl SizeGb {
    pub fn parse(n: i64) -> Result<Self, ValidationError> {
        if n <= 0 {
            return Err(err("must be more than 0"));
        }
        if n > 1_000_000 {
            return Err(err("must be at most 1000000"));
        }
        Ok(Self(n as u32))
    }
    pub fn get(&self) -> u32 {
        self.0
    }
}

/// A TCP or UDP port number, 1 to 65535.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "i64", try_from = "i64")]
pub struct PortNumber(u16);
impl TryFrom<i64> for PortNumber {
    type Error = ValidationError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::parse(n)
    }
}
impl From<PortNumber> for i64 {
    fn from(v: PortNumber) -> i64 {
        i64::from(v.0)
    }
}
impl PortNumber {
    /// Port 80, where a domain's requests go when nothing else is said.
    pub const HTTP: PortNumber = PortNumber(80);

    pub fn parse(n: i64) -> Result<Self, ValidationError> {
        if (1..=65535).contains(&n) {
            Ok(Self(n as u16))
        } else {
            Err(err("must be a port from 1 to 65535"))
        }
    }
    pub fn get(&self) -> u16 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("john_doe").is_ok());
        assert!(Username::parse("a-1").is_ok());
        for bad in [
            "jo",
            "John",
            "john doe",
            "x".repeat(51).as_str(),
            "jöhn",
            "a;rm",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" John@Example.COM ").unwrap().as_str(),
            "john@example.com"
        );
        for bad in [
            "john",
            "@example.com",
            "john@",
            "john@localhost",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_keys() {
        for good in ["PORT", "_X", "DATABASE_URL", "A1"] {
            assert!(EnvKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "1A", "port", "A-B", "A B", "É"] {
            assert!(EnvKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_names() {
        assert_eq!(
            DomainName::parse("App.Example.com.").unwrap().as_str(),
            "app.example.com"
        );
        assert!(DomainName::parse("*.example.com").unwrap().is_wildcard());
        assert!(DomainName::parse("xn--bcher-kva.example").is_ok());
        for bad in [
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            "a_b.com",
            "10.0.0.1",
            "exa mple.com",
            "a.*.com",
            &format!("{}.com", "a".repeat(64)),
            "",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_numbers() {
        assert!(ProjectName::parse("my app").is_ok());
        assert!(ProjectName::parse("ab").is_err());
        assert!(ProjectName::parse(&"x".repeat(101)).is_err());
        assert!(ResourceName::parse("api-service").is_ok());
        for bad in ["Api", "1api", "api-", "a", "a_b", "a.b"] {
            assert!(ResourceName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Replicas::parse(0).unwrap().get(), 0);
        assert_eq!(
            Replicas::parse(-1).unwrap_err().errors[0].message,
            "must not be negative"
        );
        assert!(Replicas::parse(101).is_err());
        assert!(SizeGb::parse(0).is_err());
        assert!(PortNumber::parse(0).is_err());
        assert!(PortNumber::parse(65536).is_err());
    }

    #[test]
    fn branches() {
        for good in ["main", "feature/x-1", "release-1.2", "v1.0.0"] {
            assert!(BranchName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "main; touch /tmp/pwned",
            "-f",
            "a..b",
            "a b",
            "a~1",
            "a:b",
            "x.lock",
            "/a",
            "a/",
            ".hidden",
            "a/.b",
            "$(id)",
            "a`b`",
            "",
        ] {
            assert!(BranchName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repositories_on_this_machine_are_refused_unless_under_an_allowed_root() {
        let roots = [std::path::PathBuf::from("/srv/git")];
        for (url, none, allowed) in [
            ("https://github.com/acme/web.git", true, true),
            ("git@github.com:acme/web.git", true, true),
            ("ssh://git@host:2222/x.git", true, true),
            ("file:///etc", false, false),
            ("file://localhost/etc", false, false),
            ("/var/lib/berth/work/checkouts/other", false, false),
            ("/srv/git/app.git", false, true),
            ("file:///srv/git/app.git", false, true),
            ("/srv/git/../../etc", false, false),
            ("/srv/gitx/app.git", false, false),
        ] {
            let r = RepositoryUrl::parse(url).unwrap();
            assert_eq!(r.check_fetchable(&[]).is_ok(), none, "{url} with no root");
            assert_eq!(r.check_fetchable(&roots).is_ok(), allowed, "{url}");
        }
        let host = |u: &str| RepositoryUrl::parse(u).unwrap().host();
        assert_eq!(
            host("https://GitHub.com/a/b").as_deref(),
            Some("github.com")
        );
        assert_eq!(
            host("ssh://git@h.test:2222/x").as_deref(),
            Some("h.test:2222")
        );
        assert_eq!(host("git@h.test:a/b.git").as_deref(), Some("h.test"));
        assert_eq!(host("/srv/x"), None);
        let sub = |base: &str, rel: &str| {
            RepositoryUrl::parse(base)
                .unwrap()
                .resolve_submodule(rel)
                .map(|u| u.to_string())
        };
        assert_eq!(
            sub("https://h/a/b.git", "../c.git").unwrap(),
            "https://h/a/c.git"
        );
        assert_eq!(
            sub("https://h/a/b.git", "../../c.git").unwrap(),
            "https://h/c.git"
        );
        assert!(sub("https://h/a/b.git", "../../../c.git").is_err());
        assert_eq!(sub("git@h:a/b.git", "../c.git").unwrap(), "git@h:a/c.git");
        assert_eq!(sub("git@h:b.git", "../c.git").unwrap(), "git@h:c.git");
        assert_eq!(
            sub("https://h/a/b.git", "file:///etc").unwrap(),
            "file:///etc"
        );
    }

    #[test]
    fn repository_urls() {
        for good in [
            "https://github.com/acme/web.git",
            "ssh://git@example.com:2222/acme/web.git",
            "git@github.com:acme/web.git",
            "file:///srv/git/web",
            "/srv/git/web",
        ] {
            assert!(RepositoryUrl::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "https://user:pass@github.com/a/b",
            "ftp://x/y",
            "-uhttps://x",
            "web",
            "https:// x",
            "ext::sh -c touch% /tmp/pwned",
        ] {
            assert!(RepositoryUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_references() {
        for good in [
            "busybox",
            "berth/web:abc123",
            "registry.example.com:5000/team/app:1.2",
            "localhost/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(ImageReference::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Busybox",
            "app:",
            "app:-x",
            "-app",
            "a//b",
            "app@sha256:xyz",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_application_runs_registry_images_only() {
        for ok in [
            "busybox",
            "cafe:1",
            "registry.example.com:5000/berth/app:1.2",
            "localhost/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "team/berth",
        ] {
            let r = ImageReference::parse(ok).unwrap();
            assert!(r.check_runnable().is_ok(), "{ok}");
        }
        for refused in [
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "0123456789ab",
            "3f2a",
            "berth/web:abc123",
            "berth/shop-web-0190",
            "docker.io/berth/web:latest",
            "index.docker.io/berth/web",
        ] {
            let r = ImageReference::parse(refused).unwrap();
            assert!(r.check_runnable().is_err(), "{refused}");
        }
        assert_eq!(
            ImageReference::parse("busybox").unwrap().for_engine(),
            "busybox:latest"
        );
        assert_eq!(
            ImageReference::parse("localhost:5000/busybox")
                .unwrap()
                .for_engine(),
            "localhost:5000/busybox:latest"
        );
        assert_eq!(
            ImageReference::parse("busybox:1").unwrap().for_engine(),
            "busybox:1"
        );
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            RelativePath::parse("./docker//Dockerfile")
                .unwrap()
                .as_str(),
            "docker/Dockerfile"
        );
        assert_eq!(RelativePath::parse(".").unwrap().as_str(), ".");
        for bad in ["../../etc/passwd", "/etc/passwd", "a/../../b", ""] {
            assert!(RelativePath::parse(bad).is_err(), "{bad}");
        }
        assert!(MountPath::parse("/data").is_ok());
        assert!(MountPath::parse("data").is_err());
        assert!(MountPath::parse("/").is_err());
    }
}

string_value!(
    /// The name of a Swarm service, which is also its DNS name on berth's overlay networks: a DNS
    /// label of 2 to 63 lowercase letters, digits and hyphens, starting with a letter and not
    /// ending with a hyphen.
    ServiceName
);
impl ServiceName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        ResourceName::parse(s).map(|n| Self(n.into_inner()))
    }

    /// The service of an application: its name, shortened so the whole fits in 63 characters,
    /// and the last 8 hex digits of its id, so two applications of the same name in different
    /// projects never share a service.
    pub fn for_application(name: &ResourceName, id: crate::ApplicationId) -> Self {
        let hex = id.as_uuid().simple().to_string();
        let suffix = &hex[hex.len() - 8..];
        let base = name.as_str()[..name.as_str().len().min(54)].trim_end_matches('-');
        Self(format!("{base}-{suffix}"))
    }
}

string_value!(
    /// A directory or file on a node, mounted into a container: an absolute path without `..`.
    HostPath
);
impl HostPath {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if !s.starts_with('/') || s.len() > 4096 || has_control(s) {
            return Err(err("must be an absolute path on the host"));
        }
        if s.split('/').any(|p| p == "..") {
            return Err(err("must not contain '..'"));
        }
        Ok(Self(s.to_owned()))
    }

    /// Whether this path is `root` or inside it, compared component by component (so
    /// `/srv/data2` is not inside `/srv/data`).
    pub fn is_inside(&self, root: &HostPath) -> bool {
        let mut mine = self.0.split('/').filter(|c| !c.is_empty() && *c != ".");
        root.0
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .all(|r| mine.next() == Some(r))
    }
}

/// Each parser accepts exactly what its pattern in [`patterns`] (and the length the document
/// gives with it) allows, on strings chosen to sit on every edge of the rules.
#[cfg(test)]
mod pattern_tests {
    use super::*;
    use crate::HttpVerify;

    fn agree(
        pattern: &str,
        lengths: Option<(usize, usize)>,
        parse: impl Fn(&str) -> bool,
        samples: &[String],
    ) {
        let re = regex::Regex::new(pattern).unwrap();
        for s in samples {
            let n = s.chars().count();
            let allowed =
                re.is_match(s) && lengths.is_none_or(|(min, max)| (min..=max).contains(&n));
            assert_eq!(
                parse(s),
                allowed,
                "{pattern} and the parser differ on {s:?}"
            );
        }
    }

    fn samples() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            "a",
            "ab",
            "abc",
            "my app",
            " my app",
            "my app ",
            "my\tapp",
            "my\napp",
            "app\n",
            "\u{a0}app",
            "app\u{3000}",
            "app\u{85}",
            "ap\u{7f}p",
            "ap\u{9f}p",
            "ap\u{a0}p",
            "über",
            "日本語のチーム",
            "a\u{2028}b",
            "\u{1680}ab",
            "ab\u{200a}",
            "a\u{200b}b",
            "admin",
            "ad",
            "Admin",
            "a-b_c",
            "a.b",
            "-ab",
            "ab-",
            "0ab",
            "ab/",
            "/",
            "/health",
            "/health check",
            "/\u{a0}",
            "/a\u{0}",
            "//",
            "/x?y=1",
            "health",
            "0123456789abcdef0123456789abcdef01234567",
            "0123456789ABCDEF0123456789abcdef01234567",
            "0123456789abcdef0123456789abcdef0123456",
            " 0123456789abcdef0123456789abcdef01234567",
            "0123456789abcdef0123456789abcdef012345670123456789abcdef01234567",
            "g123456789abcdef0123456789abcdef01234567",
            "data",
            "my-volume.v1_2",
            "_data",
            ".data",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for p in [
            "/data",
            "/data/",
            "//",
            "/.",
            "/..",
            "/../x",
            "/a/..",
            "/a/../b",
            "/a/...",
            "/a/..b",
            "/.hidden",
            "/a/.",
            "/a//b",
            "/a\u{1}",
            "data/x",
            "/ spaced name",
            "/é/ü",
            "A_B",
            "_",
            "A1",
            "1A",
            "a_b",
            "web-2",
            "w",
            "web-",
            "wEb",
            "a-b-c",
            "/\u{85}",
        ] {
            v.push(p.to_owned());
        }
        v.push(format!("/{}", "a".repeat(1023)));
        v.push(format!("/{}", "a".repeat(1024)));
        v.push(format!("/{}", "é".repeat(1023)));
        v.push("A".repeat(255));
        v.push("A".repeat(256));
        v.push(format!("a{}", "b".repeat(62)));
        v.push(format!("a{}", "b".repeat(63)));
        v.push("two\nlines\twith a tab".to_owned());
        v.push("a\r\nb".to_owned());
        for n in [1, 2, 3, 49, 50, 51, 99, 100, 101, 127, 128, 129, 1000, 1001] {
            v.push("x".repeat(n));
            v.push("é".repeat(n));
        }
        v
    }

    #[test]
    fn every_parser_holds_to_its_pattern() {
        let s = samples();
        agree(
            patterns::DISPLAY_NAME,
            Some((3, 100)),
            |x| ProjectName::parse(x).is_ok(),
            &s,
        );
        agree(
            patterns::DISPLAY_NAME,
            Some((3, 100)),
            |x| TeamName::parse(x).is_ok(),
            &s,
        );
        agree(
            patterns::DISPLAY_NAME,
            Some((1, 100)),
            |x| Label::parse(x).is_ok(),
            &s,
        );
        agree(patterns::USERNAME, None, |x| Username::parse(x).is_ok(), &s);
        agree(
            patterns::RESOURCE_NAME,
            None,
            |x| ResourceName::parse(x).is_ok(),
            &s,
        );
        agree(patterns::ENV_KEY, None, |x| EnvKey::parse(x).is_ok(), &s);
        agree(
            patterns::MOUNT_PATH,
            Some((0, 1024)),
            |x| MountPath::parse(x).is_ok(),
            &s,
        );
        agree(
            patterns::DESCRIPTION,
            Some((0, 1000)),
            |x| Description::parse(x).is_ok(),
            &s,
        );
        agree(patterns::COMMIT, None, |x| CommitSha::parse(x).is_ok(), &s);
        agree(
            patterns::VOLUME_NAME,
            None,
            |x| VolumeName::parse(x).is_ok(),
            &s,
        );
        let http = |x: &str| {
            HttpVerify {
                http_path: x.to_owned(),
                port: PortNumber::parse(80).unwrap(),
                timeout_s: 30,
            }
            .validate()
            .is_ok()
        };
        agree(patterns::HTTP_PATH, None, http, &s);
    }
}
