//! The catalog: every ready server's tools and prompts, merged under exposed
//! names, and the way back from an exposed name to its server.
//!
//! - [`names`]: [`Naming`], how a server's names become exposed ones
//!   (prefix, separator, shortening with a hash).
//! - [`filter`]: [`ToolFilter`], a server's `allow_tools`, `deny_tools` and
//!   `rename_tools`.
//! - [`listing`]: [`Listing`], one kind of item merged across servers.
//! - [`store`]: [`CatalogStore`], the snapshot in force and its rebuilds.

pub mod filter;
pub mod listing;
pub mod names;
pub mod store;

pub use filter::ToolFilter;
pub use listing::{Entry, Listing};
pub use names::{Naming, valid_server_id};
pub use store::{Catalog, CatalogStore, Changed, Kind, Lists, Source};
