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
    /// An email address ([`patterns::EMAIL`]); stored lowercase.
    Email
);
impl Email {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if !patterns::EMAIL.allows(s) {
            return Err(err("must be an email address like name@example.com"));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}

/// A new password as typed: 8 to 128 characters ([`patterns::PASSWORD`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(crate::SecretString);
impl Password {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if !patterns::PASSWORD.allows(s) {
            return Err(err("must be 8 to 128 characters"));
        }
        Ok(Self(crate::SecretString::new(s)))
    }
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// What bcrypt is given for a password: the password itself up to 72 bytes, bcrypt's
    /// limit; a longer one as the base64 of its SHA-256, so every character counts. Hashing
    /// and checking both go through here.
    pub fn bcrypt_input(password: &str) -> std::borrow::Cow<'_, str> {
        use base64::Engine as _;
        use sha2::Digest as _;
        if password.len() <= 72 {
            return std::borrow::Cow::Borrowed(password);
        }
        let digest = sha2::Sha256::digest(password.as_bytes());
        std::borrow::Cow::Owned(base64::engine::general_purpose::STANDARD.encode(digest))
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
    /// The characters `char::is_whitespace` and `char::is_control` name, for a class: what
    /// no name, path or URL a user gives may hold (where a pattern says so).
    macro_rules! space_or_control {
        () => {
            " \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f"
        };
    }
    /// A host name's labels: letters, digits and `-` (not at either end), the last starting
    /// with a letter.
    macro_rules! host_name {
        () => {
            "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        };
    }

    /// A display name (a project's, a team's, a token's): no control character, and no
    /// white space at either end (the characters `char::is_whitespace` and `char::is_control`
    /// name). Its length is given apart.
    pub const DISPLAY_NAME: &str = concat!(
        "^[^",
        space_or_control!(),
        "](?:[^\\x00-\\x1f\\x7f-\\x9f]*[^",
        space_or_control!(),
        "])?$"
    );
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
    pub const HTTP_PATH: &str = concat!("^/[^", space_or_control!(), "]*$");

    /// A rule of a value users give, as the document states it: a pattern it matches (a
    /// search, as JSON Schema's `pattern` is), patterns it must not contain anywhere (the
    /// document's `not`), and its length in characters. The parsers below that have one judge
    /// by it, so what the document allows and what berth accepts cannot drift apart.
    #[derive(Debug)]
    pub struct Rule {
        pub pattern: Option<&'static str>,
        pub forbidden: &'static [&'static str],
        pub min: usize,
        pub max: usize,
        compiled: std::sync::OnceLock<(Option<regex_lite::Regex>, Vec<regex_lite::Regex>)>,
    }

    impl Rule {
        pub const fn new(
            pattern: Option<&'static str>,
            forbidden: &'static [&'static str],
            min: usize,
            max: usize,
        ) -> Self {
            Self {
                pattern,
                forbidden,
                min,
                max,
                compiled: std::sync::OnceLock::new(),
            }
        }

        /// Whether `s` follows the rule.
        pub fn allows(&self, s: &str) -> bool {
            let n = s.chars().count();
            if n < self.min || n > self.max {
                return false;
            }
            let (pattern, forbidden) = self.compiled.get_or_init(|| {
                let compile = |p: &str| {
                    regex_lite::Regex::new(p)
                        .unwrap_or_else(|e| panic!("the pattern {p:?} does not compile: {e}"))
                };
                (
                    self.pattern.map(compile),
                    self.forbidden.iter().map(|p| compile(p)).collect(),
                )
            });
            pattern.as_ref().is_none_or(|p| p.is_match(s))
                && !forbidden.iter().any(|f| f.is_match(s))
        }

        /// The rule as JSON Schema keywords of a string.
        pub fn schema(&self) -> serde_json::Value {
            let mut out = serde_json::Map::new();
            if self.min > 0 {
                out.insert("minLength".into(), self.min.into());
            }
            if self.max < usize::MAX {
                out.insert("maxLength".into(), self.max.into());
            }
            if let Some(p) = self.pattern {
                out.insert("pattern".into(), p.into());
            }
            // `type` inside `not`, so that a field that may be null stays allowed to be.
            let forbidden = |p: &str| serde_json::json!({ "type": "string", "pattern": p });
            match self.forbidden {
                [] => {}
                [one] => {
                    out.insert("not".into(), forbidden(one));
                }
                many => {
                    let any: Vec<_> = many.iter().map(|p| forbidden(p)).collect();
                    out.insert("not".into(), serde_json::json!({ "anyOf": any }));
                }
            }
            serde_json::Value::Object(out)
        }
    }

    /// A host name, as domains, e-mail addresses and the registries of image references have
    /// it: labels of letters, digits and `-` (not at either end), the last starting with a
    /// letter (so no IP address), no trailing dot. A domain may start with `*.`.
    pub static HOST_NAME: Rule = Rule::new(
        Some(concat!("^(?:\\*\\.)?", host_name!(), "$")),
        &[],
        0,
        253,
    );
    /// An e-mail address: a local part of 1 to 64 characters without `@`, white space or
    /// control characters, `@`, a host name.
    pub static EMAIL: Rule = Rule::new(
        Some(concat!(
            "^[^@",
            space_or_control!(),
            "]{1,64}@",
            host_name!(),
            "$"
        )),
        &[],
        0,
        254,
    );
    /// A password: 8 to 128 characters, any of them.
    pub static PASSWORD: Rule = Rule::new(None, &[], 8, 128);
    /// An image reference, `[registry[:port]/]path[:tag][@digest]`, by the grammar of the
    /// distribution project: a registry has a dot, a port or is `localhost`; path components
    /// are lowercase.
    pub static IMAGE: Rule = Rule::new(
        Some("^(?:(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+|localhost)(?::[0-9]+)?|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?:[0-9]+)/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"),
        &[],
        0,
        512,
    );
    /// A DNS server's IPv4 address and port, `192.0.2.1:53`.
    pub static DNS_SERVER: Rule = Rule::new(
        Some("^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]):(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"),
        &[],
        0,
        21,
    );
    /// A name in the DNS (a zone, a TSIG key's name): labels of letters, digits, `-` and `_`,
    /// a trailing dot or not.
    pub static DNS_NAME: Rule = Rule::new(
        Some("^(?:[A-Za-z0-9_-]{1,63}\\.)*[A-Za-z0-9_-]{1,63}\\.?$"),
        &[],
        0,
        253,
    );
    /// A TSIG key's secret: canonical base64 of at least one byte, as `tsig-keygen` prints it.
    pub static TSIG_SECRET: Rule = Rule::new(
        Some(
            "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$",
        ),
        &[],
        4,
        1024,
    );
    /// Where a repository lives: an `https`, `http` (without credentials in it), `ssh`,
    /// `git` or `file` URL (its host without `[` or `]`: no IPv6 literal, and no half of one
    /// that a URL parser chokes on), an absolute path, or scp-like `[user@]host:path` (whose path
    /// starts with neither `:` nor `//`, so no other scheme or transport hides in it); no
    /// white space or control character, not starting with `-`.
    pub static REPOSITORY: Rule = Rule::new(
        Some(concat!(
            "^(?:https?://[^/@\\[\\]",
            space_or_control!(),
            "]+(?:/[^",
            space_or_control!(),
            "]*)?|(?:ssh|git)://[^/\\[\\]",
            space_or_control!(),
            "]+(?:/[^",
            space_or_control!(),
            "]*)?|file://[^",
            space_or_control!(),
            "]*|/[^",
            space_or_control!(),
            "]*|[^-/:",
            space_or_control!(),
            "][^/:",
            space_or_control!(),
            "]*:(?:[^:/",
            space_or_control!(),
            "][^",
            space_or_control!(),
            "]*|/(?:[^/",
            space_or_control!(),
            "][^",
            space_or_control!(),
            "]*)?))$"
        )),
        &[],
        0,
        2048,
    );
    /// A branch or tag name, by the rules of `git check-ref-format --branch`, and none of the
    /// characters a shell reads.
    pub static BRANCH: Rule = Rule::new(
        Some(concat!(
            "^[^-/~^:?*\\[\\\\;$`|&<>\"'",
            space_or_control!(),
            "](?:[^~^:?*\\[\\\\;$`|&<>\"'",
            space_or_control!(),
            "]*[^/.~^:?*\\[\\\\;$`|&<>\"'",
            space_or_control!(),
            "])?$"
        )),
        &[
            "\\.\\.",
            "@\\{",
            "//",
            "^@$",
            "(?:^|/)\\.",
            "\\.lock(?:/|$)",
        ],
        1,
        255,
    );
    /// A path inside a checkout (a Dockerfile, a build context): relative, no `..` component,
    /// no control character.
    pub static RELATIVE_PATH: Rule = Rule::new(
        Some("^[^/\\\\\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"),
        &["(?:^|/)\\.\\.(?:/|$)"],
        1,
        1024,
    );
    /// A Dockerfile's build stage.
    pub static BUILD_TARGET: Rule = Rule::new(Some("^[A-Za-z0-9_.-]{1,128}$"), &[], 0, 128);
    /// A token for a git host.
    pub static GIT_TOKEN: Rule = Rule::new(None, &[], 1, 4096);
    /// A private key for SSH, in PEM or OpenSSH format.
    pub static SSH_KEY: Rule = Rule::new(Some("PRIVATE KEY"), &[], 0, 65536);
    /// The path prefix a domain routes: `/`, then no white space, control character, `?`,
    /// `#`, `%`, `\` or `//`.
    pub static PATH_PREFIX: Rule = Rule::new(
        Some(concat!("^/[^?#%\\\\", space_or_control!(), "]*$")),
        &["//"],
        0,
        200,
    );
    /// A word of a command (a container's command, a release command, a health check's):
    /// not empty, no NUL character. A command is one or more of them.
    pub static COMMAND_WORD: Rule = Rule::new(Some("^[^\\x00]*$"), &[], 1, usize::MAX);

    /// Whether `command` names a program: at least one word, each a [`COMMAND_WORD`].
    pub fn command_allowed(command: &[String]) -> bool {
        !command.is_empty() && command.iter().all(|w| COMMAND_WORD.allows(w))
    }

    /// An environment variable's value: no NUL character, at most 65536 characters.
    pub static ENV_VALUE: Rule = Rule::new(Some("^[^\\x00]*$"), &[], 0, 65536);

    /// A basic-auth user's name: no `:` and no control character.
    pub static BASIC_AUTH_USER: Rule = Rule::new(Some("^[^:\\x00-\\x1f\\x7f-\\x9f]*$"), &[], 1, 64);

    /// A registry, as an image reference names it: a host name with a dot, or `localhost`, or
    /// a single label, each with an optional port (a single label needs one), the registry part
    /// of [`IMAGE`].
    pub static REGISTRY_HOST: Rule = Rule::new(
        Some("^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+|localhost)(?::[0-9]{1,5})?|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?:[0-9]{1,5})$"),
        &[],
        0,
        261,
    );
    /// A user name at a registry: no `:`, white space or control character.
    pub static REGISTRY_USER: Rule = Rule::new(
        Some(concat!("^[^:", space_or_control!(), "]*$")),
        &[],
        1,
        255,
    );
    /// A schedule: five fields (minute, hour, day of the month, month, day of the week) separated
    /// by one space, each `*` or a value or range in its bounds, with an optional step, or a
    /// list of them; months and weekdays also by name, in any case. That a range does not run
    /// backwards, and that the schedule ever runs, is checked by [`crate::CronSchedule`].
    pub static CRON: Rule = Rule::new(
        Some("^(?:\\*|(?:[0-5]?[0-9])(?:-(?:[0-5]?[0-9]))?)(?:/[1-9][0-9]{0,7})?(?:,(?:\\*|(?:[0-5]?[0-9])(?:-(?:[0-5]?[0-9]))?)(?:/[1-9][0-9]{0,7})?)* (?:\\*|(?:[01]?[0-9]|2[0-3])(?:-(?:[01]?[0-9]|2[0-3]))?)(?:/[1-9][0-9]{0,7})?(?:,(?:\\*|(?:[01]?[0-9]|2[0-3])(?:-(?:[01]?[0-9]|2[0-3]))?)(?:/[1-9][0-9]{0,7})?)* (?:\\*|(?:0?[1-9]|[12][0-9]|3[01])(?:-(?:0?[1-9]|[12][0-9]|3[01]))?)(?:/[1-9][0-9]{0,7})?(?:,(?:\\*|(?:0?[1-9]|[12][0-9]|3[01])(?:-(?:0?[1-9]|[12][0-9]|3[01]))?)(?:/[1-9][0-9]{0,7})?)* (?:\\*|(?:0?[1-9]|1[0-2]|[Jj][Aa][Nn]|[Ff][Ee][Bb]|[Mm][Aa][Rr]|[Aa][Pp][Rr]|[Mm][Aa][Yy]|[Jj][Uu][Nn]|[Jj][Uu][Ll]|[Aa][Uu][Gg]|[Ss][Ee][Pp]|[Oo][Cc][Tt]|[Nn][Oo][Vv]|[Dd][Ee][Cc])(?:-(?:0?[1-9]|1[0-2]|[Jj][Aa][Nn]|[Ff][Ee][Bb]|[Mm][Aa][Rr]|[Aa][Pp][Rr]|[Mm][Aa][Yy]|[Jj][Uu][Nn]|[Jj][Uu][Ll]|[Aa][Uu][Gg]|[Ss][Ee][Pp]|[Oo][Cc][Tt]|[Nn][Oo][Vv]|[Dd][Ee][Cc]))?)(?:/[1-9][0-9]{0,7})?(?:,(?:\\*|(?:0?[1-9]|1[0-2]|[Jj][Aa][Nn]|[Ff][Ee][Bb]|[Mm][Aa][Rr]|[Aa][Pp][Rr]|[Mm][Aa][Yy]|[Jj][Uu][Nn]|[Jj][Uu][Ll]|[Aa][Uu][Gg]|[Ss][Ee][Pp]|[Oo][Cc][Tt]|[Nn][Oo][Vv]|[Dd][Ee][Cc])(?:-(?:0?[1-9]|1[0-2]|[Jj][Aa][Nn]|[Ff][Ee][Bb]|[Mm][Aa][Rr]|[Aa][Pp][Rr]|[Mm][Aa][Yy]|[Jj][Uu][Nn]|[Jj][Uu][Ll]|[Aa][Uu][Gg]|[Ss][Ee][Pp]|[Oo][Cc][Tt]|[Nn][Oo][Vv]|[Dd][Ee][Cc]))?)(?:/[1-9][0-9]{0,7})?)* (?:\\*|(?:0?[0-7]|[Ss][Uu][Nn]|[Mm][Oo][Nn]|[Tt][Uu][Ee]|[Ww][Ee][Dd]|[Tt][Hh][Uu]|[Ff][Rr][Ii]|[Ss][Aa][Tt])(?:-(?:0?[0-7]|[Ss][Uu][Nn]|[Mm][Oo][Nn]|[Tt][Uu][Ee]|[Ww][Ee][Dd]|[Tt][Hh][Uu]|[Ff][Rr][Ii]|[Ss][Aa][Tt]))?)(?:/[1-9][0-9]{0,7})?(?:,(?:\\*|(?:0?[0-7]|[Ss][Uu][Nn]|[Mm][Oo][Nn]|[Tt][Uu][Ee]|[Ww][Ee][Dd]|[Tt][Hh][Uu]|[Ff][Rr][Ii]|[Ss][Aa][Tt])(?:-(?:0?[0-7]|[Ss][Uu][Nn]|[Mm][Oo][Nn]|[Tt][Uu][Ee]|[Ww][Ee][Dd]|[Tt][Hh][Uu]|[Ff][Rr][Ii]|[Ss][Aa][Tt]))?)(?:/[1-9][0-9]{0,7})?)*$"),
        &[],
        9,
        200,
    );
    /// A registry password or access token: no NUL character (a JSON key file is one).
    pub static REGISTRY_PASSWORD: Rule = Rule::new(Some("^[^\\x00]*$"), &[], 1, 8192);
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
    /// A fully qualified host name ([`patterns::HOST_NAME`]), stored lowercase: at most 253
    /// characters, at least two labels, the last starting with a letter (so no IP address).
    /// A leading `*.` makes it a wildcard.
    DomainName
);
impl DomainName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if !patterns::HOST_NAME.allows(s) {
            return Err(err(
                "must be a host name like app.example.com: labels of letters, digits and '-', the last starting with a letter, at most 253 characters",
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
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
        if !patterns::BRANCH.allows(s) {
            return Err(err(
                "is not a valid branch name: 1 to 255 characters, no spaces, control characters or any of ~^:?*[\\;$`|&<>\"', no '..', '//' or '@{', not starting with '-' or '/', not ending with '/' or '.', no component starting with '.' or ending with '.lock'",
            ));
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
        if !patterns::REPOSITORY.allows(s) {
            return Err(err(
                "must be an https, ssh, git or file URL (no credentials in an https one: they go in the credentials field), user@host:path, or an absolute path, without spaces",
            ));
        }
        Ok(Self(s.to_owned()))
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
        if !patterns::IMAGE.allows(s) {
            return Err(err(
                "must be an image reference like registry.example.com/team/app:1.2",
            ));
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

    /// The registry the engine pulls it from: the first component when it has a dot, a port
    /// or is `localhost` (the distribution grammar's rule), else Docker Hub (`docker.io`).
    pub fn registry(&self) -> RegistryHost {
        match self.0.split_once('/') {
            Some((first, _))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                RegistryHost::normalised(first)
            }
            _ => RegistryHost(RegistryHost::DOCKER_HUB.to_owned()),
        }
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

string_value!(
    /// A registry's host and port as image references name it ([`patterns::REGISTRY_HOST`]),
    /// stored lowercase; Docker Hub's other names are `docker.io`.
    RegistryHost
);
impl RegistryHost {
    /// Docker Hub, the registry of references that name none.
    pub const DOCKER_HUB: &'static str = "docker.io";

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if !patterns::REGISTRY_HOST.allows(s) {
            return Err(err(
                "must be a registry's host, with a port if it needs one, like registry.example.com:5000",
            ));
        }
        Ok(Self::normalised(s))
    }

    fn normalised(s: &str) -> Self {
        let s = s.to_ascii_lowercase();
        match s.as_str() {
            "index.docker.io" | "registry-1.docker.io" => Self(Self::DOCKER_HUB.to_owned()),
            _ => Self(s),
        }
    }

    /// Whether it is an address rather than a name: `localhost`, or a host whose last label
    /// does not start with a letter, as [`patterns::HOST_NAME`] asks of a name. That takes in
    /// every way a resolver reads a number as an address (`127.0.0.1`, `127.1`, `2130706433`,
    /// `0x7f000001`). A pull makes the engine reach the registry, so an address is berth's
    /// machine or its network: admins name it, or list it for everyone (docs/api.md, "Registries").
    pub fn is_address(&self) -> bool {
        let host = self.0.split(':').next().unwrap_or(&self.0);
        let last_label = host.rsplit('.').next().unwrap_or(host);
        host == "localhost" || !last_label.starts_with(|c: char| c.is_ascii_alphabetic())
    }
}

string_value!(
    /// The user name berth gives a registry ([`patterns::REGISTRY_USER`]).
    RegistryUser
);
impl RegistryUser {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if !patterns::REGISTRY_USER.allows(s) {
            return Err(err(
                "must be 1 to 255 characters with no ':', white space or control character",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// What berth hands the engine for one pull: a user and a password (or token) at one registry.
#[derive(Debug, Clone)]
pub struct RegistryCredentials {
    pub registry: RegistryHost,
    pub username: RegistryUser,
    pub password: crate::SecretString,
}

/// How one project pulls: the credentials it uses (its team's for a registry, else the
/// installation's), the registries berth ever held credentials for, and those the
/// installation lists. One rule for every pull, an application's image and a build's `FROM`
/// alike (docs/api.md, "Registries").
#[derive(Debug, Clone, Default)]
pub struct RegistryAccess {
    /// At most one per registry.
    pub credentials: Vec<RegistryCredentials>,
    pub credentialed: Vec<RegistryHost>,
    pub listed: Vec<RegistryHost>,
}

impl RegistryAccess {
    /// The credentials to pull from `host` with, if any.
    pub fn credentials_for(&self, host: &RegistryHost) -> Option<&RegistryCredentials> {
        self.credentials.iter().find(|c| &c.registry == host)
    }

    /// Whether an image of `host` is pulled though the engine has it: berth held credentials
    /// for it, so the engine's copy may have come with another tenant's, and the registry,
    /// asked with this project's, decides.
    pub fn always_pull(&self, host: &RegistryHost) -> bool {
        self.credentialed.contains(host)
    }

    /// Whether the installation lists `host`, which lets anyone name it by its address.
    pub fn listed(&self, host: &RegistryHost) -> bool {
        self.listed.contains(host)
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
        if !patterns::RELATIVE_PATH.allows(s) {
            return Err(err(
                "must be a path relative to the repository of 1 to 1024 characters, with no '..' component",
            ));
        }
        let parts: Vec<&str> = s
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
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
            Email::parse("John@Example.COM").unwrap().as_str(),
            "john@example.com"
        );
        for bad in [
            "john",
            "@example.com",
            "john@",
            "john@localhost",
            "a b@example.com",
            "a@b@c.com",
            " john@example.com",
            "john@example.com.",
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
            DomainName::parse("App.Example.com").unwrap().as_str(),
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
            "app.example.com.",
            " app.example.com",
            "a.1com",
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
            "https://example.com/a[1]/web.git",
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
            "ext::sh%20-c%20touch",
            "ftp://x/y",
            "x:://y",
            "http://[0",
            "ssh://git@[::1/x",
        ] {
            assert!(RepositoryUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registries_that_are_addresses() {
        for address in [
            "127.0.0.1:5000/x:1",
            "169.254.169.254:80/latest",
            "localhost:5000/x",
            "localhost/x",
            "10.0.0.5/team/app",
            "127.1:5000/x",
            "2130706433:80/x",
            "0x7f000001:80/x",
            "LocalHost:5000/x",
        ] {
            let image = ImageReference::parse(address).unwrap();
            assert!(image.registry().is_address(), "{address}");
        }
        for name in [
            "busybox",
            "library/busybox:1",
            "ghcr.io/acme/web:1",
            "registry.example.com:5000/x",
        ] {
            let image = ImageReference::parse(name).unwrap();
            assert!(!image.registry().is_address(), "{name}");
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
    fn an_image_names_its_registry_or_docker_hub() {
        for (image, registry) in [
            ("busybox", "docker.io"),
            ("team/app:1", "docker.io"),
            ("docker.io/team/app", "docker.io"),
            ("index.docker.io/team/app", "docker.io"),
            (
                "Registry.Example.com:5000/team/app",
                "registry.example.com:5000",
            ),
            ("localhost/app", "localhost"),
            (
                "host:5000/app@sha256:0123456789abcdef0123456789abcdef",
                "host:5000",
            ),
        ] {
            let r = ImageReference::parse(image).unwrap().registry();
            assert_eq!(r.as_str(), registry, "{image}");
            assert_eq!(RegistryHost::parse(registry).unwrap(), r, "{image}");
        }
        for bad in [
            "",
            "a",
            "a/b",
            "https://ghcr.io",
            "ghcr.io/",
            "ghcr.io:",
            " ghcr.io",
            "-a.io",
        ] {
            assert!(RegistryHost::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RegistryHost::parse("127.0.0.1:5000").unwrap().is_address());
        assert!(RegistryHost::parse("localhost").unwrap().is_address());
        assert!(!RegistryHost::parse("ghcr.io").unwrap().is_address());
        for bad in ["a:b", "a b", "", "a\n"] {
            assert!(RegistryUser::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RegistryUser::parse("_json_key").is_ok());
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

    /// Every rule compiles, its schema carries what it checks, and the rules without a parser
    /// of their own (the DNS-01 setting's) accept and refuse what they say.
    #[test]
    fn every_rule_compiles_and_states_itself() {
        use patterns::*;
        for rule in [
            &HOST_NAME,
            &EMAIL,
            &PASSWORD,
            &IMAGE,
            &DNS_SERVER,
            &DNS_NAME,
            &TSIG_SECRET,
            &REPOSITORY,
            &BRANCH,
            &RELATIVE_PATH,
            &BUILD_TARGET,
            &GIT_TOKEN,
            &SSH_KEY,
            &PATH_PREFIX,
            &COMMAND_WORD,
            &ENV_VALUE,
            &BASIC_AUTH_USER,
            &REGISTRY_HOST,
            &REGISTRY_USER,
            &REGISTRY_PASSWORD,
            &CRON,
        ] {
            let _ = rule.allows("x");
            let schema = rule.schema();
            assert_eq!(schema["pattern"].as_str(), rule.pattern);
            assert_eq!(schema["not"].is_null(), rule.forbidden.is_empty());
        }
        for good in ["192.0.2.1:53", "10.0.0.255:65535", "0.0.0.0:1"] {
            assert!(DNS_SERVER.allows(good), "{good}");
        }
        for bad in [
            "192.0.2.1",
            "192.0.2.1:0",
            "192.0.2.1:65536",
            "01.2.3.4:53",
            "dns:53",
            " 1.2.3.4:53",
        ] {
            assert!(!DNS_SERVER.allows(bad), "{bad}");
        }
        for good in [
            "example.com",
            "example.com.",
            "_acme-challenge.example.com",
            "berth-acme",
        ] {
            assert!(DNS_NAME.allows(good), "{good}");
        }
        for bad in ["", ".", "a..b", "a b", "a.b..", &"a".repeat(64)] {
            assert!(!DNS_NAME.allows(bad), "{bad}");
        }
        use base64::Engine as _;
        for bytes in [&b"k"[..], b"ke", b"key", b"a whole key of bytes"] {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            assert!(TSIG_SECRET.allows(&encoded), "{encoded}");
        }
        for bad in ["", "a", "abc", "AB==", "ABC=", "a b=", "YQ"] {
            assert!(!TSIG_SECRET.allows(bad), "{bad}");
        }
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"é".repeat(129)).is_err());
        assert!(Password::parse("seven c").is_err());
        // Past bcrypt's 72 bytes, every character still counts.
        let long = "x".repeat(100);
        assert_ne!(
            Password::bcrypt_input(&long),
            Password::bcrypt_input(&format!("{}y", "x".repeat(99)))
        );
        assert_eq!(Password::bcrypt_input("short one"), "short one");
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
