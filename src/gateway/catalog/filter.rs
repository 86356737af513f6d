//! Per-server tool filters and renames (`allow_tools`, `deny_tools`,
//! `rename_tools`): which of a server's tools are exposed, and under what name.
//!
//! Filtering happens when the catalog is built, so a hidden tool is neither
//! listed nor callable (a call to it is an unknown tool, as for any name the
//! catalog does not have). A rename changes the name before the prefix; the
//! server still hears its own name.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::ServerConfig;

#[derive(Debug, Default)]
pub struct ToolFilter {
    /// `None`: everything is allowed.
    allow: Option<GlobSet>,
    deny: Option<GlobSet>,
    rename: Vec<(String, String)>,
}

impl ToolFilter {
    /// Globs were checked when the configuration was loaded; one that still fails
    /// to build is logged and ignored (allow: then nothing is allowed, the safe side).
    pub fn new(config: &ServerConfig) -> ToolFilter {
        ToolFilter {
            allow: (!config.allow_tools.is_empty()).then(|| build(&config.allow_tools)),
            deny: (!config.deny_tools.is_empty()).then(|| build(&config.deny_tools)),
            rename: config.rename_tools.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        }
    }

    /// True when the filter changes nothing.
    pub fn is_empty(&self) -> bool {
        self.allow.is_none() && self.deny.is_none() && self.rename.is_empty()
    }

    /// The name a tool is exposed under (before the prefix), or `None` when hidden.
    pub fn local_name<'a>(&'a self, original: &'a str) -> Option<&'a str> {
        if let Some(allow) = &self.allow
            && !allow.is_match(original)
        {
            return None;
        }
        if let Some(deny) = &self.deny
            && deny.is_match(original)
        {
            return None;
        }
        Some(self.rename.iter().find(|(from, _)| from == original).map_or(original, |(_, to)| to.as_str()))
    }
}

fn build(globs: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        match Glob::new(g) {
            Ok(glob) => {
                b.add(glob);
            }
            Err(e) => tracing::warn!("ignoring tool glob {g:?}: {e}"),
        }
    }
    b.build().unwrap_or_else(|e| {
        tracing::warn!("tool globs {globs:?}: {e}");
        GlobSet::empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_then_deny_then_rename() {
        let config = ServerConfig {
            allow_tools: vec!["git_*".into(), "echo".into()],
            deny_tools: vec!["git_push*".into()],
            rename_tools: [("echo".to_owned(), "say".to_owned())].into(),
            ..ServerConfig::default()
        };
        let f = ToolFilter::new(&config);
        assert_eq!(f.local_name("git_status"), Some("git_status"));
        assert_eq!(f.local_name("git_push_force"), None);
        assert_eq!(f.local_name("rm"), None);
        assert_eq!(f.local_name("echo"), Some("say"));
        assert!(ToolFilter::new(&ServerConfig::default()).is_empty());
        assert_eq!(ToolFilter::new(&ServerConfig::default()).local_name("anything"), Some("anything"));
    }
}
