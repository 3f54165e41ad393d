//! Signing in and out, with throttling of failed attempts, and the first administrator.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use std::net::IpAddr;
use tokio_postgres::GenericClient;

// Signing in

/// Failures allowed per account or address before sign-in is locked for a while.
pub const FREE_FAILURES: i32 = 5;

#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the cookie secret (shown to the browser only) and the CSRF token.
    Ok { session_secret: String, csrf_token: String, principal: Box<Principal> },
    /// Wrong e-mail or password; which one is not said.
    Rejected,
    /// Too many failures; try again after this many seconds.
    Throttled { retry_after_s: i64 },
}

fn throttle_keys(email: &str, address: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("account:{}", email.trim().to_lowercase())];
    if let Some(address) = address {
        keys.push(format!("address:{address}"));
    }
    keys
}

pub async fn sign_in(
    client: &impl GenericClient,
    email: &str,
    password: &str,
    address: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Result<SignIn> {
    let keys = throttle_keys(email, address);
    let locked: Option<f64> = client
        .query_one(
            "SELECT max(extract(epoch FROM locked_until - now()))::float8 FROM login_failures
              WHERE key = ANY($1) AND locked_until > now()",
            &[&keys],
        )
        .await?
        .get(0);
    if let Some(seconds) = locked {
        return Ok(SignIn::Throttled { retry_after_s: seconds.ceil().max(1.0) as i64 });
    }
    let user = client
        .query_opt(
            "SELECT u.tenant_id, u.id, u.password_hash FROM users u JOIN tenants t ON t.id = u.tenant_id
              WHERE lower(u.email) = lower($1) AND u.disabled_at IS NULL AND t.disabled_at IS NULL",
            &[&email.trim()],
        )
        .await?;
    let hash = user.as_ref().and_then(|u| u.get::<_, Option<String>>("password_hash"));
    let verified = verify_password(password, hash).await && user.is_some();
    let Some(user) = user.filter(|_| verified) else {
        // Lock for 30 s after FREE_FAILURES, doubling with every further failure, up to an
        // hour; a quiet hour forgets the count.
        client
            .execute(
                "INSERT INTO login_failures AS f (key, failures) SELECT unnest($1::text[]), 1
                 ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN f.first_failed_at < now() - interval '1 hour' THEN 1 ELSE f.failures + 1 END,
                    first_failed_at = CASE WHEN f.first_failed_at < now() - interval '1 hour' THEN now() ELSE f.first_failed_at END,
                    locked_until = CASE WHEN f.first_failed_at >= now() - interval '1 hour' AND f.failures + 1 >= $2
                        THEN now() + LEAST(interval '1 hour', interval '30 seconds' * power(2, f.failures + 1 - $2))
                        ELSE NULL END",
                &[&keys, &FREE_FAILURES],
            )
            .await?;
        return Ok(SignIn::Rejected);
    };
    client.execute("DELETE FROM login_failures WHERE key = ANY($1)", &[&keys]).await?;
    let tenant = TenantId(user.get("tenant_id"));
    let user_id: i64 = user.get("id");
    let session_secret = random_secret();
    let csrf_token = random_secret();
    client
        .execute(
            "INSERT INTO sessions (token_hash, tenant_id, user_id, csrf_token, address, user_agent, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + $7::text::interval)",
            &[
                &secret_digest(&session_secret),
                &tenant.0,
                &user_id,
                &csrf_token,
                &address,
                &user_agent.map(|a| a.chars().take(300).collect::<String>()),
                &interval(SESSION_IDLE),
            ],
        )
        .await?;
    let principal = authenticate_session(client, &session_secret)
        .await?
        .ok_or_else(|| Error::Worker("a new session could not be read back".into()))?;
    Ok(SignIn::Ok { session_secret, csrf_token, principal: Box::new(principal) })
}

pub async fn sign_out(client: &impl GenericClient, secret: &str) -> Result<()> {
    client.execute("DELETE FROM sessions WHERE token_hash = $1", &[&secret_digest(secret)]).await?;
    Ok(())
}

/// First start: when the installation has no user yet, creates an administrator in the
/// default tenant. Returns the password when it was generated (to be shown once).
pub async fn ensure_first_admin(
    client: &mut impl GenericClient,
    email: &str,
    password: Option<&str>,
) -> Result<Option<(String, Option<String>)>> {
    let any: bool = client.query_one("SELECT EXISTS (SELECT FROM users)", &[]).await?.get(0);
    if any {
        return Ok(None);
    }
    let email = validate_email(email)?;
    let (password, generated) = match password {
        Some(p) => {
            validate_password(p)?;
            (p.to_owned(), None)
        }
        None => {
            let p = random_secret()[..20].to_owned();
            (p.clone(), Some(p))
        }
    };
    let hash = hash_password(&password).await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO users (tenant_id, email, display_name, password_hash, role_id, is_platform_admin, password_must_change)
             SELECT t.id, $1, 'Administrator', $2, r.id, true, $3
               FROM tenants t JOIN roles r ON r.tenant_id = t.id AND r.name = 'admin' AND r.built_in
              WHERE t.slug = 'default'
             RETURNING tenant_id, id",
            &[&email, &hash, &generated.is_some()],
        )
        .await?;
    let tenant = TenantId(row.get(0));
    let id: i64 = row.get(1);
    audit::record(
        &tx,
        tenant,
        &Actor::system("first-start"),
        Change {
            action: "user.create",
            entity: "user",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "email": email, "role": "admin", "platform_admin": true })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some((email, generated)))
}
