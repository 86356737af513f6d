//! Entry points: which files to read, reading them, and merging them.
//!
//! Every file is read and checked even after another one failed, so one run
//! reports the problems of all of them. The merged result is validated only
//! when every file could be read and parsed: a missing contribution would
//! make the merged checks report problems that are not there.

use std::path::{Path, PathBuf};

use super::document;
use super::error::{ConfigError, ConfigErrors};
use super::layer::Layer;
use super::root::Config;
use super::validate;

/// Loads, merges and validates `paths` in order (later files override
/// earlier ones key by key), substituting `${VAR}` from the process
/// environment. With no paths the result is the defaults: callers that want
/// the default search order pass [`default_path`] themselves.
pub fn load(paths: &[PathBuf]) -> Result<Config, ConfigErrors> {
    load_with_env(paths, &|name| std::env::var(name).ok())
}

/// [`load`], with the environment (for `${VAR}` and `HOME`) given by `env`.
pub fn load_with_env(paths: &[PathBuf], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let mut merger = Merger::default();
    for path in paths {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => merger.add(&file, &text, env),
            Err(e) => merger.unreadable(ConfigError::in_file(file, format!("cannot read: {e}"))),
        }
    }
    merger.finish(paths.to_vec(), env)
}

/// Parses and validates one document held in memory; `origin` names it in
/// errors and becomes the only entry of [`Config::sources`].
pub fn parse_str(origin: &str, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let mut merger = Merger::default();
    merger.add(origin, text, env);
    merger.finish(vec![PathBuf::from(origin)], env)
}

/// The configuration file to use when none is given: `$VMCP_CONFIG` if set,
/// else the first that exists of `./vmcp.toml` and
/// `$XDG_CONFIG_HOME/vmcp/config.toml` (`~/.config/vmcp/config.toml` when
/// `XDG_CONFIG_HOME` is unset). `$VMCP_CONFIG` is returned even when the file
/// is missing, so that loading it reports the mistake instead of quietly
/// using another file.
pub fn default_path() -> Option<PathBuf> {
    default_path_from(&|name| std::env::var(name).ok(), &|path| path.exists())
}

fn default_path_from(env: &dyn Fn(&str) -> Option<String>, exists: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(path) = set("VMCP_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from("vmcp.toml");
    if exists(&local) {
        return Some(local);
    }
    let config_home = set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    let user = config_home.join("vmcp").join("config.toml");
    exists(&user).then_some(user)
}

/// Layers read so far, and what went wrong on the way.
#[derive(Default)]
struct Merger {
    merged: Layer,
    errors: Vec<ConfigError>,
    /// Some file could not be read or parsed at all.
    incomplete: bool,
}

impl Merger {
    fn add(&mut self, file: &str, text: &str, env: &dyn Fn(&str) -> Option<String>) {
        let (layer, errors) = document::read(file, text, env);
        self.errors.extend(errors);
        match layer {
            Some(layer) => self.merged.merge(layer),
            None => self.incomplete = true,
        }
    }

    fn unreadable(&mut self, error: ConfigError) {
        self.errors.push(error);
        self.incomplete = true;
    }

    fn finish(mut self, sources: Vec<PathBuf>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        if self.incomplete {
            return Err(ConfigErrors(self.errors));
        }
        let config = validate::finish(self.merged, sources, env, &mut self.errors);
        if self.errors.is_empty() { Ok(config) } else { Err(ConfigErrors(self.errors)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn vmcp_config_wins_even_when_missing() {
        let env = env_of(&[("VMCP_CONFIG", "/nowhere/x.toml"), ("HOME", "/home/u")]);
        let found = default_path_from(&env, &|_| true);
        assert_eq!(found, Some(PathBuf::from("/nowhere/x.toml")));
    }

    #[test]
    fn local_file_comes_before_user_config() {
        let env = env_of(&[("HOME", "/home/u")]);
        assert_eq!(default_path_from(&env, &|_| true), Some(PathBuf::from("vmcp.toml")));
        let only_user = |p: &Path| p != Path::new("vmcp.toml");
        assert_eq!(default_path_from(&env, &only_user), Some(PathBuf::from("/home/u/.config/vmcp/config.toml")));
        let xdg = env_of(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/xdg")]);
        assert_eq!(default_path_from(&xdg, &only_user), Some(PathBuf::from("/xdg/vmcp/config.toml")));
        assert_eq!(default_path_from(&env, &|_| false), None);
        assert_eq!(default_path_from(&env_of(&[]), &|_| false), None);
    }
}
