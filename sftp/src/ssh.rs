//! The SSH side: password and public-key logins against the partner accounts, the `sftp`
//! subsystem and nothing else (no shell, no exec, no forwarding).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use dialpool_engine::delivery::sftp::account::{self, Login};
use russh::MethodKind;
use russh::keys::PublicKey;
use russh::server::{Auth, ChannelOpenHandle, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId};

use crate::fs::Partner;
use crate::throttle::Throttle;

/// The ways a partner signs in.
pub(crate) const METHODS: &[MethodKind] = &[MethodKind::PublicKey, MethodKind::Password];

/// A refusal that still offers both ways. russh's plain refusal drops the method just
/// tried from the list it sends back; paramiko, told after a wrong password that
/// passwords are not accepted at all, waits for its authentication timeout (30 s)
/// instead of reporting the wrong password.
fn refuse() -> Auth {
    Auth::Reject { proceed_with_methods: Some(METHODS.into()), partial_success: false }
}

#[derive(Clone)]
pub(crate) struct Server {
    pool: deadpool_postgres::Pool,
    data_dir: PathBuf,
    throttle: Arc<Throttle>,
}

impl Server {
    pub(crate) fn new(pool: deadpool_postgres::Pool, data_dir: PathBuf, throttle: Arc<Throttle>) -> Server {
        Server { pool, data_dir, throttle }
    }
}

impl russh::server::Server for Server {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection {
            server: self.clone(),
            address: peer.map(|p| p.ip()),
            login: None,
            channels: HashMap::new(),
        }
    }
}

pub(crate) struct Connection {
    server: Server,
    address: Option<IpAddr>,
    login: Option<Login>,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl Connection {
    fn banned(&self) -> bool {
        self.address.is_some_and(|a| self.server.throttle.banned(a))
    }

    async fn account(&self, user: &str) -> Option<Login> {
        let client = self.server.pool.get().await.ok()?;
        match account::login(&**client, user).await {
            Ok(login) => login,
            Err(error) => {
                tracing::warn!(%error, "looking up an SFTP account");
                None
            }
        }
    }

    async fn accepted(&mut self, login: Login) -> Auth {
        if let Some(address) = self.address {
            self.server.throttle.succeeded(address);
        }
        if let Ok(client) = self.server.pool.get().await {
            let _ = account::record_login(&**client, login.account_id).await;
        }
        tracing::info!(account = login.account_id, address = ?self.address, "SFTP login");
        self.login = Some(login);
        Auth::Accept
    }

    fn rejected(&self) -> Auth {
        if let Some(address) = self.address {
            self.server.throttle.failed(address);
        }
        refuse()
    }
}

fn same_key(line: &str, key: &PublicKey) -> bool {
    PublicKey::from_openssh(line).is_ok_and(|known| known.key_data() == key.key_data())
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(refuse())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if self.banned() {
            return Ok(refuse());
        }
        let login = self.account(user).await;
        // An unknown user costs the same argon2 verification as a known one.
        let verified = match &login {
            Some(login) => account::verify_password(login, password).await,
            None => {
                let unknown = Login {
                    account_id: 0,
                    tenant: dialpool_engine::TenantId(0),
                    provider_code: String::new(),
                    password_hash: None,
                    public_keys: Vec::new(),
                    quota_bytes: 0,
                    quota_files: 0,
                    import_options: serde_json::Value::Null,
                };
                account::verify_password(&unknown, password).await
            }
        };
        Ok(match login {
            Some(login) if verified => self.accepted(login).await,
            _ => self.rejected(),
        })
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        if self.banned() {
            return Ok(refuse());
        }
        let public_key = key.public_key.clone();
        Ok(match self.account(user).await {
            Some(login) if login.public_keys.iter().any(|line| same_key(line, &public_key)) => {
                self.accepted(login).await
            }
            _ => self.rejected(),
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(login), true) = (self.login.clone(), name == "sftp") else {
            session.channel_failure(channel_id)?;
            return Ok(());
        };
        let Some(channel) = self.channels.remove(&channel_id) else {
            session.channel_failure(channel_id)?;
            return Ok(());
        };
        match Partner::open(self.server.pool.clone(), &self.server.data_dir, login).await {
            Ok(partner) => {
                session.channel_success(channel_id)?;
                russh_sftp::server::run(channel.into_stream(), partner).await;
            }
            Err(error) => {
                tracing::warn!(%error, "preparing an SFTP account's folders");
                session.channel_failure(channel_id)?;
            }
        }
        Ok(())
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.close(channel)?;
        Ok(())
    }
}
