//! `[auth]`, `[auth.jwt]` and `[[policy]]`: who may call the HTTP front ends,
//! and what each principal may use.
//!
//! The tables are declared once below (see `table.rs`): each key's field,
//! kind, default and own check; `api_keys` and `jwt`, the parts of `[auth]`
//! that are tables, are kinds of their own here ([`ApiKeys`], [`Jwt`]).
//! What combines keys (an `[auth]` that accepts somebody, each JWT algorithm
//! with its key, `api_keys` with distinct names and hashes, a policy that
//! names someone and something) is said by hand in [`Check::auth`] and
//! [`Check::policy`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::at::At;
use super::check::{Check, check_http_url, no_fragment, non_zero, pos_of, positive, sha256_problem, unpositioned};
use super::error::Pos;
use super::kinds::{Dur, EachString, Globs, Kind, Str, Strings};
use super::reader::{Reader, article, key_hint};
use super::suggest;
use super::table::config_table;
use super::values::{
    ApiKey, BUILTIN_PRINCIPALS, DEFAULT_JWKS_REFRESH, DEFAULT_JWT_ALGORITHMS, DEFAULT_JWT_LEEWAY, JWT_ALGORITHMS,
    MIN_JWT_SECRET_BYTES,
};

config_table! {
    /// `[auth]`: how clients of the HTTP front ends prove who they are. A request
    /// is accepted with a known API key or a valid JWT (both travel as
    /// `Authorization: Bearer <credential>`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AuthConfig;
    layer AuthLayer {
        // Where `[auth]` was first written (its key).
        at: Pos,
        // Some key could not be read: the checks that combine keys are skipped.
        broken: bool,
    }
    /// The keys of `[auth]`.
    keys AUTH_KEYS;
    merge merge_keys;
    table {
        api_keys: Vec<ApiKey> = ApiKeys, default Vec::new(),
            build |c, at, _| at.map(|keys| c.api_keys(keys.value)).unwrap_or_default();
        jwt: Option<JwtConfig> = Jwt, default None, build |c, at, path| at.map(|jwt| jwt.value.build(c, path));
        /// This gateway's canonical resource URI (RFC 8707), such as
        /// `"https://mcp.example.com/mcp"`: advertised in the protected resource
        /// metadata (RFC 9728) and the default JWT audience.
        resource: Option<String> = Str, default None, check |v| check_http_url(v).and_then(|()| no_fragment(v));
        /// Authorization servers advertised in the protected resource metadata.
        authorization_servers: Vec<String> = EachString, default Vec::new(),
            build |_, at, _| at.map(|servers| unpositioned(servers.value)).unwrap_or_default();
        /// Scopes advertised in the protected resource metadata.
        scopes_supported: Vec<String> = Strings, default Vec::new();
    }
}

config_table! {
    /// `[auth.jwt]`: bearer JWTs, verified with a shared secret (HS256), a public
    /// key file (RS256, ES256) or the keys of a JWKS URL.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct JwtConfig;
    layer JwtLayer {}
    /// The keys of `[auth.jwt]`.
    keys JWT_KEYS;
    merge merge;
    table {
        /// Accepted `alg` values, from [`JWT_ALGORITHMS`].
        algorithms: Vec<String> = EachString, default default_algorithms(),
            build |_, at, _| at.map_or_else(default_algorithms, |list| unpositioned(list.value));
        /// HS256: the shared secret.
        secret: Option<String> = Str, default None,
            check |v| {
                if v.len() < MIN_JWT_SECRET_BYTES {
                    Err(format!(
                        "an HS256 secret needs at least {MIN_JWT_SECRET_BYTES} bytes (this one has {}); \
                         use ${{VAR}} to keep it out of the file",
                        v.len()
                    ))
                } else {
                    Ok(())
                }
            };
        /// RS256 / ES256: a PEM public key (or certificate) file.
        public_key_file: Option<PathBuf> = Str, default None,
            build |c, at, path| c.path(at.as_ref(), path, "a PEM public key file");
        /// RS256 / ES256: where to fetch the keys (JSON Web Key Set), chosen by `kid`.
        jwks_url: Option<String> = Str, default None, check |v| check_http_url(v);
        /// How long fetched keys are kept before they are fetched again (an unknown
        /// `kid` refetches at once, at most once a minute).
        jwks_refresh: Duration = Dur, default DEFAULT_JWKS_REFRESH, check |v| non_zero(*v);
        /// Required `iss`, when given.
        issuer: Option<String> = Str, default None, check |v| positive(v.is_empty(), "a non-empty issuer");
        /// Accepted `aud` values; empty: `[auth] resource` when given, else not checked.
        audience: Vec<String> = Strings, default Vec::new();
        /// Claim naming the principal.
        subject_claim: String = Str, default "sub".into(),
            check |v| positive(v.is_empty(), "a non-empty claim name");
        /// Claim holding the principal's roles (an array of strings, or a
        /// space-separated string like `scope`).
        roles_claim: String = Str, default "roles".into(), check |v| positive(v.is_empty(), "a non-empty claim name");
        /// Clock skew allowed on `exp` and `nbf`.
        leeway: Duration = Dur, default DEFAULT_JWT_LEEWAY;
    }
}

config_table! {
    /// `[[policy]]`: what the principals it names may use. A principal is named by
    /// one of its roles (`roles`) or its own name (`principals`: an API key's name
    /// or a JWT's subject). Globs run over exposed names: tools and prompts
    /// (`server__name`), resource URIs (`server+uri`), and `vmcp/*` methods.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Policy;
    layer PolicyLayer {
        // Where the table starts (its `[[policy]]` header).
        at: Pos,
        // Its place among its file's policies, from 0: errors call it `policy[<index>]`.
        index: usize,
        // Some key could not be read: the checks that combine keys are skipped.
        broken: bool,
    }
    /// The keys of a `[[policy]]` table.
    keys POLICY_KEYS;
    table {
        roles: Vec<String> = Strings, default Vec::new();
        principals: Vec<String> = Strings, default Vec::new();
        allow: Vec<String> = Globs, default Vec::new();
        deny: Vec<String> = Globs, default Vec::new();
    }
}

/// `[auth.jwt] algorithms` when not given.
fn default_algorithms() -> Vec<String> {
    DEFAULT_JWT_ALGORITHMS.iter().map(|s| s.to_string()).collect()
}

/// The keys of a table in `[auth] api_keys`.
pub const API_KEY_KEYS: &[&str] = &["name", "sha256", "roles"];

/// How to write one `api_keys` entry, for messages.
const API_KEY_EXAMPLE: &str = "{ name = \"ci\", sha256 = \"<64 hex characters>\", roles = [\"dev\"] }";

/// One `{ name = "...", sha256 = "...", roles = [...] }` of `[auth] api_keys`.
#[derive(Debug, Clone)]
pub(crate) struct ApiKeyLayer {
    pub name: At<String>,
    pub sha256: At<String>,
    pub roles: Vec<String>,
}

/// `[auth] api_keys`: `{ name = "...", sha256 = "...", roles = [...] }` each.
pub(crate) struct ApiKeys;

impl Kind for ApiKeys {
    type Value = Vec<ApiKeyLayer>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>> {
        api_keys(r, path, value)
    }
}

/// `api_keys`: an array of `{ name = "...", sha256 = "...", roles = [...] }`.
/// `None` when any item could not be read.
fn api_keys(r: &mut Reader<'_>, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<ApiKeyLayer>>> {
    let at = value.span().start;
    let items = match value.into_inner() {
        DeValue::Array(items) => items,
        other => {
            let found = article(other.type_str());
            r.error(at, format!("{path}: expected an array of tables such as [{API_KEY_EXAMPLE}], found {found}"));
            return None;
        }
    };
    let mut keys = Vec::new();
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("{path}[{i}]");
        let span = item.span();
        let key = match item.into_inner() {
            DeValue::Table(table) => api_key(r, &path, span.start, table),
            other => {
                let found = article(other.type_str());
                r.error(span.start, format!("{path}: expected a table such as {API_KEY_EXAMPLE}, found {found}"));
                None
            }
        };
        match key {
            Some(key) => keys.push(key),
            None => ok = false,
        }
    }
    ok.then(|| At { value: keys, pos: r.pos(at) })
}

/// One entry of `api_keys`; `at`: where its table starts.
fn api_key(r: &mut Reader<'_>, path: &str, at: usize, table: DeTable<'_>) -> Option<ApiKeyLayer> {
    let errors_before = r.error_count();
    let mut name: Option<At<String>> = None;
    let mut sha256: Option<At<String>> = None;
    let mut roles: Option<At<Vec<String>>> = None;
    for (key, value) in table {
        let key_at = key.span().start;
        match key.get_ref().as_ref() {
            "name" => name = r.value(&format!("{path}.name"), value),
            "sha256" => sha256 = r.value(&format!("{path}.sha256"), value),
            "roles" => roles = r.value(&format!("{path}.roles"), value),
            other => {
                let hint = suggest::hint(other, API_KEY_KEYS);
                r.error(key_at, format!("unknown key `{other}` in {path}{hint}"));
            }
        }
    }
    if r.error_count() > errors_before {
        return None;
    }
    let missing = match (&name, &sha256) {
        (None, _) => Some("`name`: who the key is, as policies and the audit log name it"),
        (_, None) => Some("`sha256`: the key's SHA-256 in hex (make one with: printf %s \"$KEY\" | sha256sum)"),
        _ => None,
    };
    if let Some(missing) = missing {
        r.error(at, format!("{path}: missing {missing}; expected a table such as {API_KEY_EXAMPLE}"));
    }
    Some(ApiKeyLayer { name: name?, sha256: sha256?, roles: roles.map_or_else(Vec::new, |at| at.value) })
}

/// `[auth.jwt]`, a table of its own or an inline one, merged key by key and
/// positioned at its key (what errors about the table as a whole point at).
pub(crate) struct Jwt;

impl Kind for Jwt {
    type Value = JwtLayer;
    fn read(r: &mut Reader<'_>, path: &str, key_at: usize, value: Spanned<DeValue<'_>>) -> Option<At<JwtLayer>> {
        let place = format!("[{path}]");
        let table = r.table(&place, value)?;
        let mut jwt = JwtLayer::new();
        jwt.read_keys(r, table, path, &place, |key| key_hint(key, JWT_KEYS, AUTH_KEYS, "[auth]"));
        Some(At { value: jwt, pos: r.pos(key_at) })
    }
    fn merge(earlier: &mut Option<At<JwtLayer>>, later: Option<At<JwtLayer>>) {
        // The position stays the first definition's.
        match (earlier.as_mut(), later) {
            (Some(earlier), Some(later)) => earlier.value.merge(later.value),
            (None, later) => *earlier = later,
            (Some(_), None) => {}
        }
    }
}

impl Check<'_> {
    /// `[auth]`, checked and built. The checks that combine keys are skipped
    /// when some key could not be read.
    pub(crate) fn auth(&mut self, a: AuthLayer) -> AuthConfig {
        let merged = self.in_merged();
        // At `api_keys = []` when that is what leaves it empty.
        let nobody_at = a.api_keys.as_ref().map_or_else(|| a.at.clone(), |keys| keys.pos.clone());
        a.check_keys(self, "auth");
        for (i, server) in a.authorization_servers.iter().flat_map(|servers| servers.value.iter().enumerate()) {
            if let Err(why) = check_http_url(&server.value) {
                self.fail(&server.pos, format!("auth.authorization_servers[{i}]: {why}"));
            }
        }
        if let Some(jwt) = &a.jwt {
            self.jwt(jwt, a.broken);
        }
        let broken = a.broken;
        let auth = a.build(self, "auth");
        if !broken && auth.api_keys.is_empty() && auth.jwt.is_none() {
            self.fail(&nobody_at, format!("[auth] accepts nobody: add api_keys or [auth.jwt]{merged}"));
        }
        auth
    }

    /// `api_keys`: names non-empty, not built in, and distinct; hashes well
    /// formed and distinct.
    fn api_keys(&mut self, keys: Vec<ApiKeyLayer>) -> Vec<ApiKey> {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut hashes: BTreeMap<String, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let path = format!("auth.api_keys[{i}]");
            let name = key.name.value;
            if name.trim().is_empty() {
                self.fail(&key.name.pos, format!("{path}.name: expected a non-empty name, such as \"ci\""));
            } else if BUILTIN_PRINCIPALS.contains(&name.as_str()) {
                self.fail(
                    &key.name.pos,
                    format!(
                        "{path}.name: \"{name}\" is the name of a built-in principal (\"local\": stdio clients; \
                         \"anonymous\": HTTP clients when there is no [auth]): choose another name"
                    ),
                );
            } else if let Some(first) = names.get(&name) {
                self.fail(
                    &key.name.pos,
                    format!(
                        "{path}.name: \"{name}\" is already the name of api_keys[{first}]: each key names one principal"
                    ),
                );
            } else {
                names.insert(name.clone(), i);
            }
            let sha256 = key.sha256.value.to_ascii_lowercase();
            if let Err(why) = sha256_problem(&sha256) {
                self.fail(&key.sha256.pos, format!("{path}.sha256: {why}"));
            } else if let Some(first) = hashes.get(&sha256) {
                self.fail(
                    &key.sha256.pos,
                    format!("{path}.sha256: the same key as api_keys[{first}]: each key must be different"),
                );
            } else {
                hashes.insert(sha256.clone(), i);
            }
            out.push(ApiKey { name, sha256, roles: key.roles });
        }
        out
    }

    /// The checks of `[auth.jwt]`; `broken`: some key of `[auth]` could not
    /// be read, so the checks that combine keys are skipped.
    fn jwt(&mut self, j: &At<JwtLayer>, broken: bool) {
        let errors_before = self.errors.len();
        if let Some(algorithms) = &j.value.algorithms {
            if algorithms.value.is_empty() {
                self.fail(
                    &algorithms.pos,
                    format!("auth.jwt.algorithms: expected at least one of {}", JWT_ALGORITHMS.join(", ")),
                );
            }
            for (i, alg) in algorithms.value.iter().enumerate() {
                if !JWT_ALGORITHMS.contains(&alg.value.as_str()) {
                    let hint = match JWT_ALGORITHMS.iter().find(|known| known.eq_ignore_ascii_case(&alg.value)) {
                        Some(known) => format!("; did you mean `{known}`? (algorithm names are case-sensitive)"),
                        None => suggest::hint(&alg.value, JWT_ALGORITHMS),
                    };
                    self.fail(&alg.pos, format!("auth.jwt.algorithms[{i}]: unknown algorithm \"{}\"{hint}", alg.value));
                }
            }
        }
        // Which keys the algorithms need is only worth saying of a valid list.
        let algorithms_ok = self.errors.len() == errors_before;
        j.value.check_keys(self, "auth.jwt");
        if !broken && algorithms_ok {
            let algorithms: Vec<String> = match &j.value.algorithms {
                Some(algorithms) => algorithms.value.iter().map(|at| at.value.clone()).collect(),
                None => default_algorithms(),
            };
            self.jwt_keys(j, &algorithms);
        }
    }

    /// Each algorithm has its key, and each key its algorithm.
    fn jwt_keys(&mut self, j: &At<JwtLayer>, algorithms: &[String]) {
        let merged = self.in_merged();
        let uses = |alg: &str| algorithms.iter().any(|a| a == alg);
        // Where a complaint about the algorithms goes: the list, or [auth.jwt] for the default one.
        let at_algorithms = j.value.algorithms.as_ref().map_or(&j.pos, |at| &at.pos).clone();
        let j = &j.value;
        match (&j.secret, uses("HS256")) {
            (None, true) => self.fail(
                &at_algorithms,
                format!(
                    "auth.jwt.algorithms: HS256 needs auth.jwt.secret, the shared secret (at least \
                     {MIN_JWT_SECRET_BYTES} bytes; use ${{VAR}} to keep it out of the file){merged}"
                ),
            ),
            (Some(secret), false) => self.fail(
                &secret.pos,
                format!("auth.jwt.secret: secret is only used by HS256; add it to algorithms{merged}"),
            ),
            _ => {}
        }
        let public: Vec<&str> = ["RS256", "ES256"].into_iter().filter(|alg| uses(alg)).collect();
        match (&j.public_key_file, &j.jwks_url) {
            (None, None) if !public.is_empty() => {
                let (names, verb) = match public.as_slice() {
                    [one] => ((*one).to_owned(), "needs"),
                    many => (many.join(" and "), "need"),
                };
                self.fail(
                    &at_algorithms,
                    format!(
                        "auth.jwt.algorithms: {names} {verb} a public key: set auth.jwt.jwks_url (a JSON Web Key \
                         Set) or auth.jwt.public_key_file (a PEM file){merged}"
                    ),
                );
            }
            (Some(_), Some(url)) if !public.is_empty() => self.fail(
                &url.pos,
                format!(
                    "auth.jwt.jwks_url: give either jwks_url or public_key_file for {}, not both{merged}",
                    public.join(" and ")
                ),
            ),
            (file, url) if public.is_empty() => {
                for (key, at) in [("public_key_file", pos_of(file)), ("jwks_url", pos_of(url))] {
                    if let Some(pos) = at {
                        self.fail(
                            &pos,
                            format!(
                                "auth.jwt.{key}: {key} is only used by RS256 and ES256; add one to algorithms{merged}"
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// One `[[policy]]`, checked and built; `None` when it has a problem.
    pub(crate) fn policy(&mut self, p: PolicyLayer) -> Option<Policy> {
        if p.broken {
            return None;
        }
        let name = format!("policy[{}]", p.index);
        let errors_before = self.errors.len();
        p.check_keys(self, &name);
        let empty = |list: &Option<At<Vec<String>>>| list.as_ref().is_none_or(|at| at.value.is_empty());
        let mut ok = true;
        if empty(&p.roles) && empty(&p.principals) {
            self.fail(&p.at, format!("{name}: names nobody: add roles or principals"));
            ok = false;
        }
        if empty(&p.allow) && empty(&p.deny) {
            self.fail(&p.at, format!("{name}: allows and denies nothing: add allow or deny"));
            ok = false;
        }
        if !ok || self.errors.len() > errors_before {
            return None;
        }
        Some(p.build(self, &name))
    }
}
