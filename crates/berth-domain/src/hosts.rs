//! The one namespace of host names the edge router answers.
//!
//! A domain claims its host and, with a `www` redirect, the other form of it (its alias); a
//! wildcard `*.example.com` covers every name one label under `example.com`. Each name is
//! claimed once on the whole installation: the rules below decide whether a claim may be made,
//! and berth-store applies them in one place for creating and changing a domain.
//!
//! - A name already claimed (as a host or an alias, by anyone) cannot be claimed again.
//! - A name one label under a wildcard belongs to the wildcard's project: another project may
//!   not claim it exactly, and a project may not claim a wildcard that covers a name another
//!   project holds. Within one project an exact name beside a wildcard is fine (the exact one
//!   answers first).
//! - berth's own hosts (`api_hosts`) are reserved with their `www` forms, everything under
//!   them and any wildcard that would cover them.

use crate::{DomainName, DomainRouting, WwwRedirect};

/// The names a domain claims: its host, then its alias when it redirects `www`.
pub fn claimed_names(host: &DomainName, routing: &DomainRouting) -> Vec<String> {
    let host = host.as_str();
    let mut names = vec![host.to_owned()];
    match routing.www_redirect {
        WwwRedirect::None => {}
        WwwRedirect::ToApex => names.push(format!("www.{host}")),
        WwwRedirect::ToWww => {
            if let Some(apex) = host.strip_prefix("www.") {
                names.push(apex.to_owned());
            }
        }
    }
    names
}

/// The name a wildcard covering `name` would have as its parent: `a.b.c` and `*.b.c` both
/// give `b.c`. `None` for a name of one label.
pub fn wildcard_parent(name: &str) -> Option<&str> {
    name.split_once('.').map(|(_, parent)| parent)
}

/// Whether `name` is a wildcard (`*.parent`).
pub fn is_wildcard(name: &str) -> bool {
    name.starts_with("*.")
}

/// The berth host that reserves `name`, if one does: the host itself, its `www` form (or, for
/// `www.x`, `x`), any name under it, or a wildcard that covers it.
pub fn reserved_by<'a>(name: &str, berth_hosts: &'a [String]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    berth_hosts.iter().map(String::as_str).find(|host| {
        let host = host.trim_end_matches('.');
        let under = name
            .strip_suffix(host)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'));
        under
            || host.strip_prefix("www.").is_some_and(|apex| name == apex)
            || name
                .strip_prefix("*.")
                .is_some_and(|parent| wildcard_parent(host) == Some(parent))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(www: WwwRedirect) -> DomainRouting {
        DomainRouting {
            www_redirect: www,
            ..DomainRouting::default()
        }
    }

    #[test]
    fn a_domain_claims_its_host_and_its_www_alias() {
        let h = DomainName::parse("shop.test").unwrap();
        assert_eq!(
            claimed_names(&h, &routing(WwwRedirect::None)),
            ["shop.test"]
        );
        assert_eq!(
            claimed_names(&h, &routing(WwwRedirect::ToApex)),
            ["shop.test", "www.shop.test"]
        );
        let w = DomainName::parse("www.shop.test").unwrap();
        assert_eq!(
            claimed_names(&w, &routing(WwwRedirect::ToWww)),
            ["www.shop.test", "shop.test"]
        );
    }

    #[test]
    fn berth_hosts_reserve_their_aliases_what_is_under_them_and_covering_wildcards() {
        let hosts = vec!["berth.example.com".to_owned(), "www.panel.test".to_owned()];
        for name in [
            "berth.example.com",
            "BERTH.example.com",
            "www.berth.example.com",
            "a.b.berth.example.com",
            "*.berth.example.com",
            "*.example.com",
            "www.panel.test",
            "panel.test",
        ] {
            assert!(reserved_by(name, &hosts).is_some(), "{name}");
        }
        for name in [
            "example.com",
            "other.example.com",
            "xberth.example.com",
            "*.other.example.com",
            "*.test",
            "shop.panel.test",
        ] {
            assert_eq!(reserved_by(name, &hosts), None, "{name}");
        }
    }

    #[test]
    fn wildcard_parents() {
        assert_eq!(wildcard_parent("a.b.c"), Some("b.c"));
        assert_eq!(wildcard_parent("*.b.c"), Some("b.c"));
        assert_eq!(wildcard_parent("localhost"), None);
        assert!(is_wildcard("*.b.c") && !is_wildcard("a.b.c"));
    }
}
