//! `config_table!`: each configuration table declared once.
//!
//! A table (`[gateway]`, `[servers.<id>]`, `[auth.jwt]`, ...) is one macro
//! invocation with one line per key. A key line names the TOML key, the
//! field, the field's type, the key's [`Kind`](super::kinds::Kind) (how its
//! value is read and merged), its default, and optionally a check of the
//! value on its own, a
//! build hook (when the field is not simply the value or the default), and
//! the example and comment of its line in the starter file (a table with no
//! configuration struct, such as `[[route]]`, gives only the key and kind):
//!
//! ```text
//! config_table! {
//!     /// `[gateway]`: ...                              (the struct's doc and derives)
//!     #[derive(Debug, Clone, PartialEq, Eq)]
//!     pub struct GatewayConfig;                         (left out: no struct, as for [[route]])
//!     layer GatewayLayer {}                             (the layer's own fields: `at: Pos`, ...)
//!     keys GATEWAY_KEYS;                                (the key list)
//!     merge merge;                                      (optional: the merge, by this name)
//!     starter GATEWAY_STARTER;                          (optional: the starter lines)
//!     table {
//!         /// Consecutive failed pings after which a server is restarted.
//!         health_failures: u32 = U32, default DEFAULT_HEALTH_FAILURES,
//!             check |&v| if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) },
//!             starter "3" "consecutive failed pings, then the server is restarted";
//!         retry_budget_percent as retry_budget: u32 = Percent, ...;   (field, TOML key)
//!         state_dir: PathBuf = Str, default ..., build |c, at, path| c.state_dir(at, path), ...;
//!     }
//! }
//! ```
//!
//! A check gets the value and returns `Err(why)`, reported as "`path`: why"
//! at the value. A build hook gets the [`Check`], the layer's value (if any
//! file set it) and the key's path, and returns the field.
//!
//! From that, the macro generates:
//! - the layer struct (`Option<At<value>>` per key, plus the table's own
//!   fields such as where it was defined), its constructor and `read_keys`:
//!   one match arm per key, and the unknown-key error with the hint its
//!   caller gives (the caller knows where else a key might belong:
//!   `document.rs` for the top-level tables, the kind of a sub-table for
//!   its own);
//! - the list of keys (`GATEWAY_KEYS`, ...), in declaration order;
//! - when asked (`merge NAME;`), the key-by-key merge of two files' layers;
//! - when the table has a configuration struct: the struct, its `Default`
//!   (the defaults of the key lines), `check_keys` (each key's own check, in
//!   declaration order, at the value's position) and `build` (the value, or
//!   the default; or the build hook's result);
//! - when asked (`starter NAME;`), the table's starter lines.
//!
//! What combines keys (a TLS certificate needs its key, a transport its URL)
//! is not a key's business: the tables' modules say it by hand, with the
//! checks they share (`check.rs`).
//!
//! The key lines are normalized by the main rule into one bracketed form and
//! handed to the `@...` rules: a part that exists only for some tables (the
//! struct, the merge, the starter) cannot be generated in the main rule,
//! since `macro_rules!` cannot nest the keys' repetition inside an optional
//! header part.

use super::at::At;
use super::check::Check;

/// How a key's value in a layer becomes its configuration field: the value
/// itself, or `Some` of it for a field that is optional; the default when no
/// file set it.
pub(crate) trait Field<V>: Sized {
    fn from_layer(value: Option<At<V>>, default: Self) -> Self;
}

impl<T> Field<T> for T {
    fn from_layer(value: Option<At<T>>, default: Self) -> Self {
        value.map_or(default, |at| at.value)
    }
}

impl<V> Field<V> for Option<V> {
    fn from_layer(value: Option<At<V>>, default: Self) -> Self {
        value.map(|at| at.value).or(default)
    }
}

/// Calls a key line's build hook; a function rather than a call of the
/// closure in place so that the closure's parameter types are inferred.
pub(crate) fn build_with<V, T>(
    check: &mut Check<'_>,
    value: Option<At<V>>,
    path: &str,
    hook: impl FnOnce(&mut Check<'_>, Option<At<V>>, &str) -> T,
) -> T {
    hook(check, value, path)
}

/// One `[gateway]` line of the starter file: `# key = example  # comment`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StarterLine {
    pub key: &'static str,
    pub example: &'static str,
    pub comment: &'static str,
}

macro_rules! config_table {
    // The TOML name of a key: its field's, unless the line says `field as key`.
    (@name $field:ident) => { stringify!($field) };
    (@name $field:ident $toml:ident) => { stringify!($toml) };

    (@check $c:ident, $value:expr, $path:expr, []) => {};
    (@check $c:ident, $value:expr, $path:expr, [$check:expr]) => {
        $c.expect($value, &$path, $check)
    };

    (@build $c:ident, $value:expr, $path:expr, [$default:expr] []) => {
        $crate::config::table::Field::from_layer($value, $default)
    };
    (@build $c:ident, $value:expr, $path:expr, [$default:expr] [$build:expr]) => {
        $crate::config::table::build_with($c, $value, &$path, $build)
    };

    (@merge [] $layer:ident $keys:tt) => {};
    (@merge [$merge:ident] $layer:ident {
        $( [$(#[$fm:meta])*] [$field:ident] [$name:expr] [$($ty:ty)?] [$kind:ty] [$($default:expr)?]
           [$($check:expr)?] [$($build:expr)?] [$($example:literal $comment:literal)?] )*
    }) => {
        impl $layer {
            /// Lays `later` over `self`, key by key, each as its kind merges.
            pub(crate) fn $merge(&mut self, later: Self) {
                $( <$kind as $crate::config::kinds::Kind>::merge(&mut self.$field, later.$field); )*
            }
        }
    };

    (@starter [] $keys:tt) => {};
    (@starter [$starter:ident] {
        $( [$(#[$fm:meta])*] [$field:ident] [$name:expr] [$($ty:ty)?] [$kind:ty] [$($default:expr)?]
           [$($check:expr)?] [$($build:expr)?] [$($example:literal $comment:literal)?] )*
    }) => {
        /// The table's lines in the starter file, in declaration order.
        pub(crate) const $starter: &[$crate::config::table::StarterLine] = &[
            $( $( $crate::config::table::StarterLine { key: $name, example: $example, comment: $comment }, )? )*
        ];
    };

    (@config [] $layer:ident $keys:tt) => {};
    (@config [$config:ident [$(#[$cm:meta])*]] $layer:ident {
        $( [$(#[$fm:meta])*] [$field:ident] [$name:expr] [$ty:ty] [$kind:ty] [$default:expr]
           [$($check:expr)?] [$($build:expr)?] [$($example:literal $comment:literal)?] )*
    }) => {
        $(#[$cm])*
        pub struct $config {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl Default for $config {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl $layer {
            /// Each key's own check, in declaration order; `base`: the
            /// table's path in messages ("gateway", "servers.time").
            pub(crate) fn check_keys(&self, c: &mut $crate::config::check::Check<'_>, base: &str) {
                let _ = (&c, base);
                $( $crate::config::table::config_table!(
                    @check c, &self.$field, format!("{base}.{}", $name), [$($check)?]
                ); )*
            }

            /// The table's configuration: each value, or its default.
            pub(crate) fn build(self, c: &mut $crate::config::check::Check<'_>, base: &str) -> $config {
                let _ = (&c, base);
                $config {
                    $( $field: $crate::config::table::config_table!(
                        @build c, self.$field, format!("{base}.{}", $name), [$default] [$($build)?]
                    ), )*
                }
            }
        }
    };

    (
        $(
            $(#[$cm:meta])*
            pub struct $config:ident;
        )?
        layer $layer:ident { $($xf:ident: $xt:ty),* $(,)? }
        $(#[$km:meta])*
        keys $keys:ident;
        $(merge $merge:ident;)?
        $(starter $starter:ident;)?
        table {$(
            $(#[$fm:meta])*
            $field:ident $(as $toml:ident)? $(: $ty:ty)? = $kind:ty $(, default $default:expr)?
            $(, check $check:expr)?
            $(, build $build:expr)?
            $(, starter $example:literal $comment:literal)?
            ;
        )*}
    ) => {
        /// What one file says of the table: each key it set, where it set it.
        #[derive(Debug, Clone)]
        pub(crate) struct $layer {
            $( pub $xf: $xt, )*
            $( pub $field: Option<$crate::config::at::At<<$kind as $crate::config::kinds::Kind>::Value>>, )*
        }

        impl $layer {
            pub(crate) fn new($($xf: $xt),*) -> Self {
                Self { $( $xf, )* $( $field: None, )* }
            }

            /// Reads the table's keys; `base`: its path in messages
            /// ("servers.time"), `place`: its name in the unknown-key error
            /// ("[servers.time]"), `hint`: what that error adds about the key
            /// ("; did you mean ...").
            pub(crate) fn read_keys(
                &mut self,
                r: &mut $crate::config::reader::Reader<'_>,
                table: ::toml::de::DeTable<'_>,
                base: &str,
                place: &str,
                hint: fn(&str) -> String,
            ) {
                for (key, value) in table {
                    let key_at = key.span().start;
                    let name: &str = key.get_ref().as_ref();
                    match name {
                        $(
                            $crate::config::table::config_table!(@name $field $($toml)?) => {
                                self.$field = <$kind as $crate::config::kinds::Kind>::read(
                                    r, &format!("{base}.{name}"), key_at, value,
                                );
                            }
                        )*
                        other => r.error(key_at, format!("unknown key `{other}` in {place}{}", hint(other))),
                    }
                }
            }
        }

        $(#[$km])*
        pub const $keys: &[&str] = &[ $( $crate::config::table::config_table!(@name $field $($toml)?), )* ];

        $crate::config::table::config_table!(@merge [$($merge)?] $layer {
            $( [$(#[$fm])*] [$field] [$crate::config::table::config_table!(@name $field $($toml)?)] [$($ty)?] [$kind]
               [$($default)?] [$($check)?] [$($build)?] [$($example $comment)?] )*
        });
        $crate::config::table::config_table!(@starter [$($starter)?] {
            $( [$(#[$fm])*] [$field] [$crate::config::table::config_table!(@name $field $($toml)?)] [$($ty)?] [$kind]
               [$($default)?] [$($check)?] [$($build)?] [$($example $comment)?] )*
        });
        $crate::config::table::config_table!(@config [$($config [$(#[$cm])*])?] $layer {
            $( [$(#[$fm])*] [$field] [$crate::config::table::config_table!(@name $field $($toml)?)] [$($ty)?] [$kind]
               [$($default)?] [$($check)?] [$($build)?] [$($example $comment)?] )*
        });
    };
}

pub(crate) use config_table;
