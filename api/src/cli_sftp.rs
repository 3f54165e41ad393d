//! `dialpool sftp`: partner accounts for the embedded SFTP server, and their uploads.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use dialpool_engine::audit::Actor;
use dialpool_engine::sftp_account::{self, SftpAccountInput};
use dialpool_engine::tenant::TenantId;

use crate::cli::print;

#[derive(Debug, Subcommand)]
pub enum SftpCommand {
    /// Partner accounts.
    #[command(subcommand)]
    Account(SftpAccountCommand),
    /// Completed uploads, newest first, and what became of each.
    Uploads(SftpUploadsArgs),
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
            let password = if args.password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                Some(text.trim_end_matches(['\n', '\r']).to_owned())
            } else {
                None
            };
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
            let account = sftp_account::create(&mut **client, tenant, &Actor::system("cli"), &input).await?;
            print(args.json, &account, || {
                format!(
                    "added SFTP account {} (#{}) for provider {}",
                    account.username, account.id, account.provider_code
                )
            })
        }
        SftpCommand::Account(SftpAccountCommand::List(args)) => {
            let accounts = sftp_account::list(&**client, tenant).await?;
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
            let uploads = sftp_account::uploads(&**client, tenant, args.limit).await?;
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
    }
}
