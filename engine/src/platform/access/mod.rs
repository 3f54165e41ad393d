//! Who may do what: permissions, roles, users and their scopes, API tokens, sessions and
//! sign-in with throttling. Passwords are hashed with Argon2id; session and token secrets
//! are stored only as SHA-256 digests. One file per concern; this module names the
//! permissions and gathers the parts, so callers write `access::create_user`.

mod principal;
mod roles;
mod secrets;
mod sign_in;
mod tokens;
mod users;

pub use principal::*;
pub use roles::*;
pub use secrets::*;
pub use sign_in::*;
pub use tokens::*;
pub use users::*;

use crate::platform::error::{Error, Result};

/// Every permission a role can hold, with what it allows. Routes name these.
pub const PERMISSIONS: &[(&str, &str)] = &[
    ("numbers.read", "Read numbers, imports and their rejects"),
    ("numbers.write", "Change number statuses, release numbers"),
    ("projects.read", "Read projects and their pools"),
    ("projects.write", "Create and change projects, pools and schedules; allocate"),
    ("imports.create", "Upload and import number files"),
    ("exports.create", "Export number batches"),
    ("conversion.read", "Read conversion analytics"),
    ("dnc.write", "Add to and remove from the do-not-call list"),
    ("calls.work", "Lease numbers, look callers up and post call outcomes (dialers, softphones)"),
    ("users.manage", "Manage users, roles, scopes and everyone's API tokens"),
    ("tokens.create", "Create API tokens for oneself"),
    ("audit.read", "Read and export the audit log"),
    ("settings.manage", "Manage providers, geos and number statuses"),
    ("sftp.manage", "Manage SFTP partners and remotes"),
    (
        "privacy.manage",
        "Erase numbers, lift tombstones, export what is held about a number, set retention, read compliance reports",
    ),
    ("scope.all", "See every provider and project; without it a user sees only those in their scope"),
];

pub fn is_permission(name: &str) -> bool {
    PERMISSIONS.iter().any(|(p, _)| *p == name)
}

fn validate_permissions(permissions: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(permissions.len());
    for p in permissions {
        if !is_permission(p) {
            return Err(Error::invalid("permissions", format!("'{p}' is not a permission")));
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out.sort();
    Ok(out)
}
