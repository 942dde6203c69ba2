//! The build context: user-supplied paths resolved strictly inside the checkout, and the
//! context packed as a tar in a temporary file (never whole in memory), honouring
//! `.dockerignore`.

use std::fs::File;
use std::path::{Path, PathBuf};

use berth_domain::RelativePath;

use crate::BuildError;

/// `root/rel`, after following every symlink, provided it is still inside `root`.
pub fn resolve_inside(
    root: &Path,
    rel: &RelativePath,
    what: &'static str,
) -> Result<PathBuf, BuildError> {
    let root = root
        .canonicalize()
        .map_err(BuildError::io("resolving the checkout"))?;
    let candidate = root.join(rel.as_str());
    let resolved = match candidate.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink may still point outside: say so rather than "missing".
            if let Ok(target) = std::fs::read_link(&candidate) {
                let target = candidate
                    .parent()
                    .map(|p| p.join(&target))
                    .unwrap_or(target);
                if !target.starts_with(&root) {
                    return Err(BuildError::PathEscapes {
                        what,
                        path: rel.to_string(),
                    });
                }
            }
            return Err(BuildError::MissingPath {
                what,
                path: rel.to_string(),
            });
        }
        Err(e) => return Err(BuildError::io("resolving a path in the checkout")(e)),
    };
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(BuildError::PathEscapes {
            what,
            path: rel.to_string(),
        })
    }
}

/// A `.dockerignore` file: patterns matched against paths relative to the context, the last
/// matching pattern deciding (`!pattern` re-includes). `*` and `?` stay within a path
/// component, `**` spans any number of them; a pattern that matches a directory excludes
/// everything under it.
#[derive(Debug, Default)]
struct DockerIgnore {
    patterns: Vec<(bool, Vec<String>)>,
}

impl DockerIgnore {
    /// Reads the context's `.dockerignore`, which must be a plain file of at most 1 MiB in
    /// the checkout: a symlink (to `/dev/zero`, to a file outside, or anywhere) is refused,
    /// never followed.
    fn load(context: &Path) -> Result<Self, BuildError> {
        let path = context.join(".dockerignore");
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(BuildError::io("reading .dockerignore")(e)),
        };
        if !meta.file_type().is_file() {
            return Err(BuildError::Unsupported(
                ".dockerignore must be a plain file in the repository, not a link or anything else"
                    .into(),
            ));
        }
        if meta.len() > 1 << 20 {
            return Err(BuildError::Unsupported(
                ".dockerignore is larger than 1 MiB".into(),
            ));
        }
        let text =
            std::fs::read_to_string(&path).map_err(BuildError::io("reading .dockerignore"))?;
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (include, p) = match l.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, l),
                };
                let parts = p
                    .trim_start_matches("./")
                    .trim_matches('/')
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(str::to_owned)
                    .collect();
                (include, parts)
            })
            .collect();
        Ok(Self { patterns })
    }

    fn excluded(&self, rel: &[String]) -> bool {
        let mut excluded = false;
        for (include, pattern) in &self.patterns {
            // A pattern matches the path or any directory above it.
            if (1..=rel.len()).any(|n| match_parts(pattern, &rel[..n])) {
                excluded = !include;
            }
        }
        excluded
    }
}

fn match_parts(pattern: &[String], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_parts(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((p, prest)) => glob(first.as_bytes(), p.as_bytes()) && match_parts(rest, prest),
            None => false,
        },
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// The context packed as a tar in a temporary file, removed when this is dropped.
#[derive(Debug)]
pub struct ContextTar {
    pub file: tempfile::NamedTempFile,
    pub entries: usize,
}

impl ContextTar {
    /// Packs `context` (symlinks stored as links, never followed), leaving out `.git` and what
    /// `.dockerignore` excludes. The Dockerfile and `.dockerignore` are always included, as
    /// Docker does.
    pub fn pack(
        context: &Path,
        dockerfile_in_context: &str,
        temp_dir: &Path,
        max_bytes: u64,
    ) -> Result<Self, BuildError> {
        let ignore = DockerIgnore::load(context)?;
        let mut total = 0u64;
        let file = tempfile::NamedTempFile::new_in(temp_dir)
            .map_err(BuildError::io("creating the context archive"))?;
        let mut builder = tar::Builder::new(
            File::create(file.path()).map_err(BuildError::io("opening the context archive"))?,
        );
        builder.follow_symlinks(false);
        let mut entries = 0;
        let mut stack = vec![PathBuf::new()];
        while let Some(rel_dir) = stack.pop() {
            let mut children: Vec<_> = std::fs::read_dir(context.join(&rel_dir))
                .map_err(BuildError::io("reading the build context"))?
                .collect::<Result<_, _>>()
                .map_err(BuildError::io("reading the build context"))?;
            children.sort_by_key(|e| e.file_name());
            for entry in children {
                let rel = rel_dir.join(entry.file_name());
                let parts: Vec<String> = rel
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                let always = parts.len() == 1
                    && (parts[0] == dockerfile_in_context || parts[0] == ".dockerignore");
                if parts.first().is_some_and(|p| p == ".git")
                    || (!always
                        && rel.to_str() != Some(dockerfile_in_context)
                        && ignore.excluded(&parts))
                {
                    continue;
                }
                let kind = entry
                    .file_type()
                    .map_err(BuildError::io("reading the build context"))?;
                if kind.is_file() {
                    total += entry
                        .metadata()
                        .map_err(BuildError::io("reading the build context"))?
                        .len();
                    if total > max_bytes {
                        return Err(BuildError::TooLarge {
                            what: "the build context",
                            limit_mb: max_bytes >> 20,
                            setting: "build_max_context_mb",
                        });
                    }
                }
                builder
                    .append_path_with_name(entry.path(), &rel)
                    .map_err(BuildError::io("packing the build context"))?;
                entries += 1;
                if kind.is_dir() {
                    stack.push(rel);
                }
            }
        }
        builder
            .into_inner()
            .and_then(|f| f.sync_all())
            .map_err(BuildError::io("writing the context archive"))?;
        Ok(Self { file, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<String> {
        p.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn dockerignore_patterns() {
        let ig = DockerIgnore {
            patterns: vec![
                (false, parts("node_modules")),
                (false, parts("*.log")),
                (false, parts("docs/**/*.md")),
                (false, parts("secret?")),
                (true, parts("keep.log")),
            ],
        };
        assert!(ig.excluded(&parts("node_modules/a/b.js")));
        assert!(ig.excluded(&parts("debug.log")));
        assert!(!ig.excluded(&parts("keep.log")));
        assert!(
            !ig.excluded(&parts("src/debug.log")),
            "* stays within one component"
        );
        assert!(ig.excluded(&parts("docs/a/b/c.md")));
        assert!(ig.excluded(&parts("docs/c.md")));
        assert!(ig.excluded(&parts("secret1")));
        assert!(!ig.excluded(&parts("src/main.rs")));
    }

    #[test]
    fn paths_resolve_only_inside_the_checkout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/Dockerfile"), "FROM x").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/passwd", dir.path().join("evil")).unwrap();
            std::os::unix::fs::symlink("/nonexistent/file", dir.path().join("dangling")).unwrap();
        }
        let rel = |s| RelativePath::parse(s).unwrap();
        assert!(resolve_inside(dir.path(), &rel("app/Dockerfile"), "Dockerfile").is_ok());
        assert!(matches!(
            resolve_inside(dir.path(), &rel("nope"), "Dockerfile"),
            Err(BuildError::MissingPath { .. })
        ));
        assert!(matches!(
            resolve_inside(dir.path(), &rel("evil"), "Dockerfile"),
            Err(BuildError::PathEscapes { .. })
        ));
        assert!(matches!(
            resolve_inside(dir.path(), &rel("dangling"), "Dockerfile"),
            Err(BuildError::PathEscapes { .. })
        ));
    }
}
