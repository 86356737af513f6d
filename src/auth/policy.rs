//! `[[policy]]`: which exposed names a principal may use.
//!
//! The semantics, in full:
//!
//! - No policies at all: everything is allowed (policies are opt-in).
//! - Otherwise, the policies that apply to a principal are those whose `roles`
//!   share a role with it or whose `principals` contain its name (exact,
//!   case-sensitive matches).
//! - A name is allowed iff some applying policy's `allow` matches it and no
//!   applying policy's `deny` does. So deny wins over allow, across policies
//!   too; and once any policy exists, a principal no policy names may use
//!   nothing (an anonymous or stdio principal included, unless a policy names
//!   the `anonymous` or `local` role).
//!
//! `allow` and `deny` are globs over exposed names: tools and prompts
//! (`server__name`), resource URIs (`server+uri`) and `vmcp/*` methods. `*`
//! matches any run of characters, `/` included. A glob that does not compile
//! (configs are validated first, so this should not happen) matches nothing
//! and is logged: an allow then allows less and a deny denies less, but no
//! policy is dropped as a whole.
//!
//! [`PolicyView`] is the decision for one principal, picked once: filtering a
//! catalog of thousands of names then only runs globs.

use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::principal::Principal;
use crate::config::Policy;

/// All `[[policy]]` tables, compiled.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    policies: Vec<Arc<Compiled>>,
}

#[derive(Debug)]
struct Compiled {
    roles: Vec<String>,
    principals: Vec<String>,
    allow: GlobSet,
    deny: GlobSet,
}

/// The policies that apply to one principal.
#[derive(Debug, Clone)]
pub struct PolicyView {
    /// No policies are configured: nothing is restricted.
    unrestricted: bool,
    applying: Vec<Arc<Compiled>>,
}

impl Policies {
    pub fn new(policies: &[Policy]) -> Policies {
        let policies = policies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Arc::new(Compiled {
                    roles: p.roles.clone(),
                    principals: p.principals.clone(),
                    allow: build(i, "allow", &p.allow),
                    deny: build(i, "deny", &p.deny),
                })
            })
            .collect();
        Policies { policies }
    }

    /// True when no policy is configured (everything is allowed).
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The decision for `p`, to ask about many names.
    pub fn view(&self, p: &Principal) -> PolicyView {
        let applying = self
            .policies
            .iter()
            .filter(|c| c.principals.iter().any(|n| **n == *p.name) || c.roles.iter().any(|r| p.roles.contains(r)))
            .cloned()
            .collect();
        PolicyView { unrestricted: self.policies.is_empty(), applying }
    }

    /// May `p` use `exposed_name`?
    pub fn allows(&self, p: &Principal, exposed_name: &str) -> bool {
        self.view(p).allows(exposed_name)
    }
}

impl PolicyView {
    /// True when no policy is configured: [`PolicyView::allows`] says yes to everything.
    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// Identifies the set of policies that apply, for caching what they let
    /// through (two principals with the same key see the same names). The
    /// addresses are of policies this view keeps alive, so a key cannot be
    /// reused by other policies while a cache entry holds the view.
    pub fn cache_key(&self) -> Vec<usize> {
        self.applying.iter().map(|c| Arc::as_ptr(c) as usize).collect()
    }

    /// May the principal use `exposed_name`?
    pub fn allows(&self, exposed_name: &str) -> bool {
        if self.unrestricted {
            return true;
        }
        self.applying.iter().any(|c| c.allow.is_match(exposed_name))
            && !self.applying.iter().any(|c| c.deny.is_match(exposed_name))
    }

    /// True when the principal may use nothing at all (policies exist and none
    /// applies to it): a caller can refuse early without looking at names.
    pub fn denies_everything(&self) -> bool {
        !self.unrestricted && self.applying.iter().all(|c| c.allow.is_empty())
    }
}

/// One policy's `allow` or `deny`, each glob on its own so one bad glob
/// costs only itself.
fn build(index: usize, field: &str, globs: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        match Glob::new(g) {
            Ok(glob) => {
                b.add(glob);
            }
            Err(e) => tracing::warn!("[[policy]] #{} {field}: ignoring glob {g:?}: {e}", index + 1),
        }
    }
    b.build().unwrap_or_else(|e| {
        tracing::warn!("[[policy]] #{} {field}: {e}; it matches nothing", index + 1);
        GlobSet::empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Via;

    fn who(name: &str, roles: &[&str]) -> Principal {
        Principal { name: name.into(), roles: roles.iter().map(|r| r.to_string()).collect(), via: Via::ApiKey }
    }

    fn policy(roles: &[&str], principals: &[&str], allow: &[&str], deny: &[&str]) -> Policy {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        Policy { roles: v(roles), principals: v(principals), allow: v(allow), deny: v(deny) }
    }

    #[test]
    fn no_policies_allow_everything() {
        let p = Policies::new(&[]);
        assert!(p.is_empty());
        assert!(p.allows(&Principal::anonymous(), "srv__rm_rf"));
        assert!(p.allows(&who("x", &[]), "vmcp/anything"));
        assert!(!p.view(&who("x", &[])).denies_everything());
    }

    #[test]
    fn role_match_with_deny() {
        let p = Policies::new(&[policy(&["dev"], &[], &["*"], &["srv__rm*"])]);
        assert!(!p.is_empty());
        let dev = who("alice", &["ops", "dev"]);
        assert!(p.allows(&dev, "srv__read"));
        assert!(p.allows(&dev, "fs+file:///etc/hosts"));
        assert!(!p.allows(&dev, "srv__rm"));
        assert!(!p.allows(&dev, "srv__rmdir"));
    }

    #[test]
    fn principal_name_match() {
        let p = Policies::new(&[policy(&[], &["ci-bot"], &["git__*"], &[])]);
        assert!(p.allows(&who("ci-bot", &[]), "git__status"));
        assert!(!p.allows(&who("ci-bot", &[]), "fs__read"));
        // Names match exactly, not as globs or case-insensitively.
        assert!(!p.allows(&who("CI-bot", &[]), "git__status"));
    }

    #[test]
    fn unnamed_principal_is_denied() {
        let p = Policies::new(&[policy(&["dev"], &["alice"], &["*"], &[])]);
        let bob = who("bob", &["guest"]);
        assert!(!p.allows(&bob, "srv__read"));
        assert!(p.view(&bob).denies_everything());
        assert!(!p.allows(&Principal::anonymous(), "srv__read"));
        assert!(!p.allows(&Principal::local(), "srv__read"));
    }

    #[test]
    fn deny_wins_across_policies() {
        let p =
            Policies::new(&[policy(&["dev"], &[], &["*"], &[]), policy(&[], &["alice"], &["fs__*"], &["fs__write"])]);
        let alice = who("alice", &["dev"]);
        let view = p.view(&alice);
        assert!(view.allows("git__push"));
        assert!(view.allows("fs__read"));
        assert!(!view.allows("fs__write"));
        // Bob has the role but is not named by the second policy: its deny does not apply.
        assert!(p.allows(&who("bob", &["dev"]), "fs__write"));
    }

    #[test]
    fn bad_glob_matches_nothing() {
        let p = Policies::new(&[policy(&["dev"], &[], &["a[", "ok__*"], &["b["])]);
        let dev = who("d", &["dev"]);
        assert!(p.allows(&dev, "ok__x"));
        assert!(!p.allows(&dev, "a["));
    }

    #[test]
    fn view_filters_many_names() {
        let p = Policies::new(&[policy(&["dev"], &[], &["srv__*"], &["srv__secret*"])]);
        let view = p.view(&who("d", &["dev"]));
        let names: Vec<String> = (0..10_000).map(|i| format!("srv__tool{i}")).collect();
        assert_eq!(names.iter().filter(|n| view.allows(n)).count(), 10_000);
        assert!(!view.allows("srv__secret_key"));
    }
}
