//! `[[route]]`: requests matching every glob given go to a server, or are
//! denied. The table's keys are declared once below (see `table.rs`); what a
//! route means as a whole (a target or a denial, something to match, a server
//! that exists) is said by hand in [`Check::route`]. Routes are appended
//! across files, not merged, and become [`RouteRule`]s, whose shape is not
//! the table's: no configuration struct is generated.

use super::check::Check;
use super::error::Pos;
use super::kinds::{Bool, Glob, Str};
use super::suggest;
use super::table::config_table;
use super::values::{RouteAction, RouteRule};

config_table! {
    layer RouteLayer {
        // Where the table starts (its `[[route]]` header).
        at: Pos,
        // Its place among its file's routes, from 0: errors call it `route[<index>]`.
        index: usize,
        // Some key could not be read: the checks that combine keys are skipped.
        broken: bool,
    }
    /// The keys of a `[[route]]` table.
    keys ROUTE_KEYS;
    table {
        method = Glob;
        tool = Glob;
        prompt = Glob;
        resource = Glob;
        to = Str;
        deny = Bool;
        reason = Str;
    }
}

impl Check<'_> {
    /// One `[[route]]`, checked and built; `None` when it has a problem.
    pub(crate) fn route(&mut self, r: RouteLayer, servers: &[&str]) -> Option<RouteRule> {
        if r.broken {
            return None;
        }
        let errors_before = self.errors.len();
        let name = format!("route[{}]", r.index);
        let deny = r.deny.as_ref().is_some_and(|at| at.value);
        match (&r.to, deny) {
            (Some(_), true) => self.fail(&r.at, format!("{name}: give either `to` or `deny = true`, not both")),
            (None, false) => {
                self.fail(
                    &r.at,
                    format!("{name}: needs `to = \"<server id>\"` or `deny = true`: what to do with a match"),
                );
            }
            _ => {}
        }
        if r.method.is_none() && r.tool.is_none() && r.prompt.is_none() && r.resource.is_none() {
            self.fail(
                &r.at,
                format!(
                    "{name}: needs at least one of `method`, `tool`, `prompt`, `resource`: \
                     which requests it matches (method = \"*\" matches all)"
                ),
            );
        }
        if let Some(reason) = &r.reason
            && !deny
        {
            self.fail(&reason.pos, format!("{name}.reason: `reason` only goes with `deny = true`"));
        }
        if let Some(to) = &r.to
            && !servers.contains(&to.value.as_str())
        {
            let hint = if servers.is_empty() {
                "; no servers are configured".to_owned()
            } else {
                suggest::hint(&to.value, servers)
            };
            let merged = self.in_merged();
            self.fail(&to.pos, format!("{name}.to: no server `{}` is configured{merged}{hint}", to.value));
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let action = match r.to {
            Some(to) if !deny => RouteAction::To(to.value),
            _ => RouteAction::Deny(r.reason.map(|at| at.value)),
        };
        Some(RouteRule {
            method: r.method.map(|at| at.value),
            tool: r.tool.map(|at| at.value),
            prompt: r.prompt.map(|at| at.value),
            resource: r.resource.map(|at| at.value),
            action,
        })
    }
}
