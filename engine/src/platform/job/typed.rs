//! The job contract as types: each kind's arguments are one serde struct, defined beside
//! the code that does the work (`intake::import::ImportJob`, `delivery::export::ExportJob`
//! …) and tied to its kind by [`JobArgs`]. Producers enqueue the struct; the worker reads
//! the same struct back, so a field cannot be written under one name and read under
//! another, and an argument nobody reads is refused instead of ignored.
//!
//! On the queue the arguments stay a JSON object (schedules and `dialpool jobs enqueue`
//! write them by hand), with one key any kind may carry: `actor`, who queued the job and
//! under whose name its changes are audited.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Claim, JobKind, NewJob};
use crate::platform::TenantId;
use crate::platform::audit::Actor;
use crate::platform::error::{Error, Result};

/// The key every kind may carry besides its own arguments.
pub const ACTOR: &str = "actor";

/// A job kind's arguments.
pub trait JobArgs: Serialize + DeserializeOwned {
    const KIND: JobKind;

    /// The job to enqueue: these arguments, and who asks for it when a person does.
    fn job(&self, tenant: Option<TenantId>, actor: Option<&Actor>) -> NewJob {
        let mut args = serde_json::to_value(self).expect("job arguments serialize to JSON");
        if let (Some(object), Some(actor)) = (args.as_object_mut(), actor) {
            object.insert(ACTOR.to_owned(), serde_json::to_value(actor).expect("an actor serializes"));
        }
        NewJob::new(tenant, Self::KIND, args)
    }
}

/// A claimed job's arguments as `A`, its `actor` aside. A key `A` does not know is
/// refused, `#[serde(flatten)]` fields included (which serde's `deny_unknown_fields`
/// cannot check): a misspelt option must not be silently dropped.
pub fn read_args<A: JobArgs>(claim: &Claim) -> Result<A> {
    let wrong = |e: String| Error::invalid("args", format!("of a {} job: {e}", claim.kind.name()));
    let mut given = claim.args.clone();
    if let Some(object) = given.as_object_mut() {
        object.remove(ACTOR);
    }
    let typed: A = serde_json::from_value(given.clone()).map_err(|e| wrong(e.to_string()))?;
    let known = serde_json::to_value(&typed).map_err(|e| wrong(e.to_string()))?;
    if let (Some(given), Some(known)) = (given.as_object(), known.as_object()) {
        let mut unknown: Vec<&str> = given
            .iter()
            .filter(|(key, value)| !value.is_null() && !known.contains_key(key.as_str()))
            .map(|(key, _)| key.as_str())
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(wrong(format!("unknown field(s) {}", unknown.join(", "))));
        }
    }
    Ok(typed)
}

/// Who queued the job, when a person did (`actor` in its arguments); else the job itself.
pub fn actor_of(claim: &Claim) -> Actor {
    claim
        .args
        .get(ACTOR)
        .and_then(|actor| serde_json::from_value(actor.clone()).ok())
        .unwrap_or_else(|| Actor { label: format!("job {}", claim.id), ..Actor::default() })
}
