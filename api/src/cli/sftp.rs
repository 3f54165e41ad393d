//! `dialpool sftp`: partner accounts for the embedded SFTP server, and their uploads;
//! remote SFTP hosts to pull from or push to, and their transfer log.

use std::io::Read;
use std::path::PathBuf;

use super::common::SecretArgs;
use clap::{Args, Subcommand};
use dialpool_engine::TenantId;
use dialpool_engine::delivery::sftp::account::{self, SftpAccountInput};
use dialpool_engine::delivery::sftp::remote::{self, SftpRemoteInput};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::secret::SecretKey;

use super::common::print;

#[derive(Debug, Subcommand)]
pub enum SftpCommand {
    /// Partner accounts.
    #[command(subcommand)]
    Account(SftpAccountCommand),
    /// Completed uploads, newest first, and what became of each.
    Uploads(SftpUploadsArgs),
    /// Remote SFTP hosts Dialpool pulls files from or pushes exports to.
    #[command(subcommand)]
    Remote(SftpRemoteCommand),
    /// The transfer log: pulls and pushes, newest first.
    Transfers(SftpTransfersArgs),
}

#[derive(Debug, Subcommand)]
pub enum SftpRemoteCommand {
    /// Add a remote host. Then `test` it and `trust` the host key it shows.
    Add(Box<SftpRemoteAddArgs>),
    /// List the remotes.
    List(SftpListArgs),
    /// Connect, sign in and list the remote folder; shows the host key to confirm.
    Test(SftpRemoteIdArgs),
    /// Confirm the host key the last test showed, by its fingerprint.
    Trust(SftpRemoteTrustArgs),
    /// Pull or push now, in this process (the schedule does it in `serve`).
    Run(SftpRemoteIdArgs),
}

#[derive(Debug, Args)]
pub struct SftpRemoteAddArgs {
    /// A name to tell it by.
    pub name: String,
    #[arg(long)]
    pub host: String,
    #[arg(long, default_value_t = 22)]
    pub port: i32,
    #[arg(long = "user")]
    pub username: String,
    /// Read the password from standard input, not the command line.
    #[arg(long)]
    pub password_stdin: bool,
    /// An OpenSSH private key file (unencrypted) to sign in with.
    #[arg(long = "key")]
    pub private_key: Option<PathBuf>,
    /// pull_numbers, pull_outcomes or push_exports.
    #[arg(long)]
    pub direction: String,
    /// The folder on the host.
    #[arg(long = "dir", default_value = ".")]
    pub remote_dir: String,
    /// Which files to pull (a glob on the name).
    #[arg(long = "pattern", default_value = "*")]
    pub file_pattern: String,
    /// After a pull: delete, move (to --move-to) or leave.
    #[arg(long, default_value = "leave")]
    pub after_pull: String,
    #[arg(long)]
    pub move_to: Option<String>,
    /// For pull_numbers: the provider the files import as.
    #[arg(long)]
    pub provider: Option<String>,
    /// Import options as JSON, e.g. '{"region": "RU"}'.
    #[arg(long)]
    pub import_options: Option<String>,
    /// When to transfer (cron, five fields).
    #[arg(long, default_value = "*/15 * * * *")]
    pub cron: String,
    #[arg(long, default_value = "UTC")]
    pub time_zone: String,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SftpRemoteIdArgs {
    pub id: i64,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SftpRemoteTrustArgs {
    pub id: i64,
    /// The fingerprint `test` showed (SHA256:…), once compared with the host's administrator.
    pub fingerprint: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SftpTransfersArgs {
    /// Only this remote's.
    #[arg(long)]
    pub remote: Option<i64>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A password piped in (`echo … |`), without its line end: never on the command line,
/// where other users' `ps` would see it.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

fn parse_enum<T: serde::de::DeserializeOwned>(field: &'static str, value: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        dialpool_engine::Error::invalid(field, format!("'{value}' is not one of the choices")).into()
    })
}

#[derive(Debug, Subcommand)]
pub enum SftpAccountCommand {
    /// Add a partner account whose files import as a provider.
    Add(SftpAccountAddArgs),
    /// List the accounts.
    List(SftpListArgs),
}

#[derive(Debug, Args)]
pub struct SftpAccountAddArgs {
    /// The login name: 2 to 63 of a-z, 0-9, '.', '_', '-'.
    pub username: String,
    /// The provider its files import as.
    #[arg(long)]
    pub provider: String,
    /// Read the password (10+ characters) from standard input, not the command line.
    #[arg(long)]
    pub password_stdin: bool,
    /// An OpenSSH public key file (repeatable).
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// Most megabytes the inbox may hold at once.
    #[arg(long)]
    pub quota_mb: Option<i64>,
    /// Most files the inbox may hold at once.
    #[arg(long)]
    pub quota_files: Option<i32>,
    /// Region for numbers without a country code.
    #[arg(long)]
    pub region: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SftpListArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SftpUploadsArgs {
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn sftp(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    command: SftpCommand,
) -> anyhow::Result<()> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    match command {
        SftpCommand::Account(SftpAccountCommand::Add(args)) => {
            let password = if args.password_stdin { Some(password_from_stdin()?) } else { None };
            let mut public_keys = Vec::new();
            for path in &args.keys {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| dialpool_engine::Error::io(format!("reading {}", path.display()), e))?;
                public_keys.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned),
                );
            }
            let input = SftpAccountInput {
                username: args.username,
                provider_code: args.provider,
                password,
                public_keys,
                quota_mb: args.quota_mb,
                quota_files: args.quota_files,
                import_options: args
                    .region
                    .map(|r| serde_json::json!({"region": r}))
                    .unwrap_or_else(|| serde_json::json!({})),
                enabled: true,
            };
            let account = account::create(&mut **client, tenant, &Actor::system("cli"), &input).await?;
            print(args.json, &account, || {
                format!(
                    "added SFTP account {} (#{}) for provider {}",
                    account.username, account.id, account.provider_code
                )
            })
        }
        SftpCommand::Account(SftpAccountCommand::List(args)) => {
            let accounts = account::list(&**client, tenant).await?;
            print(args.json, &accounts, || {
                accounts
                    .iter()
                    .map(|a| {
                        format!(
                            "{:>4}  {:<20} {:<12} password: {:<3} keys: {}  last upload: {}",
                            a.id,
                            a.username,
                            a.provider_code,
                            if a.has_password { "yes" } else { "no" },
                            a.public_keys.len(),
                            a.last_upload_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        SftpCommand::Uploads(args) => {
            let uploads = account::uploads(&**client, tenant, args.limit).await?;
            print(args.json, &uploads, || {
                uploads
                    .iter()
                    .map(|u| {
                        format!(
                            "{}  {:<16} {:<30} {:>10} bytes  {}{}",
                            u.received_at.format("%Y-%m-%d %H:%M:%S"),
                            u.username,
                            u.file_name,
                            u.bytes,
                            u.outcome,
                            u.job_state.as_deref().map(|s| format!(" (import {s})")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        SftpCommand::Remote(command) => remote(pool, &mut client, tenant, command).await,
        SftpCommand::Transfers(args) => {
            let transfers = remote::transfers(&**client, tenant, args.remote, args.limit).await?;
            print(args.json, &transfers, || {
                transfers
                    .iter()
                    .map(|t| {
                        format!(
                            "{:>5}  {}  {:<4} {:<20} {:<9} {:>3} files {:>10} bytes{}",
                            t.id,
                            t.started_at.format("%Y-%m-%d %H:%M:%S"),
                            t.direction,
                            t.remote_name,
                            t.status,
                            t.files,
                            t.bytes,
                            t.error.as_deref().map(|e| format!("  {e}")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

async fn remote(
    pool: &deadpool_postgres::Pool,
    client: &mut tokio_postgres::Client,
    tenant: TenantId,
    command: SftpRemoteCommand,
) -> anyhow::Result<()> {
    match command {
        SftpRemoteCommand::Add(args) => {
            let key = SecretKey::load(&args.secret.data_dir)?;
            let password = if args.password_stdin { Some(password_from_stdin()?) } else { None };
            let private_key = args
                .private_key
                .as_ref()
                .map(|path| {
                    std::fs::read_to_string(path)
                        .map_err(|e| dialpool_engine::Error::io(format!("reading {}", path.display()), e))
                })
                .transpose()?;
            let import_options = match &args.import_options {
                Some(text) => serde_json::from_str(text)
                    .map_err(|e| dialpool_engine::Error::invalid("import_options", e.to_string()))?,
                None => serde_json::json!({}),
            };
            let input = SftpRemoteInput {
                name: args.name,
                host: args.host,
                port: args.port,
                username: args.username,
                password,
                private_key,
                direction: parse_enum("direction", &args.direction)?,
                remote_dir: args.remote_dir,
                file_pattern: args.file_pattern,
                after_pull: parse_enum("after_pull", &args.after_pull)?,
                move_to: args.move_to,
                provider_code: args.provider,
                import_options,
                enabled: true,
                cron: args.cron,
                time_zone: args.time_zone,
            };
            let remote = remote::create(client, &key, tenant, &Actor::system("cli"), &input).await?;
            print(args.json, &remote, || {
                format!(
                    "added remote {} (#{}) {}@{}:{}; next: dialpool sftp remote test {}",
                    remote.name, remote.id, remote.username, remote.host, remote.port, remote.id
                )
            })
        }
        SftpRemoteCommand::List(args) => {
            let remotes = remote::list(&*client, tenant).await?;
            print(args.json, &remotes, || {
                remotes
                    .iter()
                    .map(|r| {
                        format!(
                            "{:>4}  {:<20} {:<13} {}@{}:{}  {}  host key: {}{}",
                            r.id,
                            r.name,
                            r.direction.name(),
                            r.username,
                            r.host,
                            r.port,
                            r.cron.as_deref().unwrap_or("-"),
                            r.host_key_fingerprint.as_deref().unwrap_or("not confirmed"),
                            if r.consecutive_failures > 0 {
                                format!(
                                    "  FAILING ({}): {}",
                                    r.consecutive_failures,
                                    r.last_error.as_deref().unwrap_or("")
                                )
                            } else {
                                String::new()
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        SftpRemoteCommand::Test(args) => {
            let key = SecretKey::load(&args.secret.data_dir)?;
            let report = dialpool_sftp::remote::test(pool, &key, tenant, args.id).await?;
            print(args.json, &report, || report.message.clone())?;
            if report.ok {
                Ok(())
            } else {
                // The explanation is printed above; this says where it stopped.
                Err(dialpool_engine::Error::Remote {
                    remote: format!("remote {}", args.id),
                    message: format!("the connection test stopped at the {} stage", report.stage),
                }
                .into())
            }
        }
        SftpRemoteCommand::Trust(args) => {
            let remote =
                remote::confirm_host_key(client, tenant, &Actor::system("cli"), args.id, &args.fingerprint)
                    .await?;
            print(args.json, &remote, || {
                format!("remote {} now accepts only the host key {}", remote.name, args.fingerprint.trim())
            })
        }
        SftpRemoteCommand::Run(args) => {
            let key = SecretKey::load(&args.secret.data_dir)?;
            let remote = remote::get(&*client, tenant, args.id).await?;
            let data_dir = &args.secret.data_dir;
            let way = dialpool_sftp::remote::Way::of(remote.direction);
            let report =
                dialpool_sftp::remote::transfer(pool, data_dir, &key, tenant, args.id, None, way).await?;
            print(args.json, &report, || {
                if let Some(skipped) = &report.skipped {
                    return skipped.clone();
                }
                let mut lines = vec![format!(
                    "transfer {}: {} file(s)",
                    report.transfer_id.unwrap_or(0),
                    report.files.len()
                )];
                lines.extend(
                    report
                        .files
                        .iter()
                        .map(|f| format!("  {:<30} {:>10} bytes  {}", f.name, f.bytes, f.outcome)),
                );
                lines.join("\n")
            })
        }
    }
}
