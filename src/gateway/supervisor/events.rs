//! [`Events`]: what the supervisor tells the rest of the gateway. It never
//! names the gateway: the gateway implements this trait and hands the
//! supervisor a weak reference to itself, so dependencies point one way
//! (gateway → supervisor) while news flows the other.

use std::sync::Arc;

use crate::gateway::backend::BackendConn;
use crate::protocol::Message;

pub trait Events: Send + Sync + 'static {
    /// A server's tools or prompts may have changed (it became ready, went
    /// down, was removed, or re-listed after `list_changed`): the catalog is
    /// rebuilt, and clients whose lists changed are told.
    fn lists_changed(&self);
    /// A server's resources appeared or went away with it.
    fn resources_changed(&self);
    /// A server sent a notification or a request of its own.
    fn server_message(&self, conn: &Arc<BackendConn>, msg: Message);
}
