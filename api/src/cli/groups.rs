//! `dialpool groups`: households and related numbers.

use clap::{Args, Subcommand};
use dialpool_engine::TenantId;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::pool::groups::{self, GroupRuleInput};

use super::common::print;

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// The group rules, in the order they apply.
    List(super::JsonFlag),
    /// Add a rule: numbers whose attributes (file columns) have the same values form a group.
    Add(GroupAddArgs),
    /// Remove a rule; its numbers leave their groups.
    Remove(GroupRemoveArgs),
    /// Recompute every number's group (after attributes were changed outside Dialpool).
    Rebuild(super::JsonFlag),
}

#[derive(Debug, Args)]
pub struct GroupAddArgs {
    /// The rule's name, e.g. household.
    pub name: String,
    /// An attribute (a column header of the provider's files); repeat for several, e.g.
    /// `--attribute name --attribute region`.
    #[arg(long = "attribute", required = true)]
    pub attributes: Vec<String>,
    /// Let the group's numbers go to different projects.
    #[arg(long)]
    pub no_keep_together: bool,
    /// Keep calling the others after one of them succeeds.
    #[arg(long)]
    pub no_park_on_success: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GroupRemoveArgs {
    pub id: i64,
    #[arg(long)]
    pub json: bool,
}

pub async fn groups_command(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    command: GroupsCommand,
) -> anyhow::Result<()> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let actor = Actor::system("cli");
    match command {
        GroupsCommand::List(flag) => {
            let rules = groups::list(&**client, tenant).await?;
            print(flag.json, &rules, || {
                if rules.is_empty() {
                    return "no group rules: numbers are not grouped".to_owned();
                }
                rules
                    .iter()
                    .map(|r| {
                        format!(
                            "{:>4}  {:<20} {:<40} {}{}",
                            r.id,
                            r.name,
                            r.attributes.join(" + "),
                            if r.keep_together { "kept in one project" } else { "may split" },
                            if r.park_on_success { ", a success parks the others" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        GroupsCommand::Add(args) => {
            let input = GroupRuleInput {
                name: args.name.clone(),
                attributes: args.attributes.clone(),
                keep_together: !args.no_keep_together,
                park_on_success: !args.no_park_on_success,
            };
            let (rule, regrouped) = groups::create(&mut **client, tenant, &actor, &input).await?;
            print(args.json, &serde_json::json!({"rule": rule, "regrouped": regrouped}), || {
                format!("group rule {} '{}' added; {regrouped} numbers joined a group", rule.id, rule.name)
            })
        }
        GroupsCommand::Remove(args) => {
            let regrouped = groups::delete(&mut **client, tenant, &actor, args.id).await?;
            print(args.json, &serde_json::json!({"regrouped": regrouped}), || {
                format!("group rule {} removed; {regrouped} numbers changed group", args.id)
            })
        }
        GroupsCommand::Rebuild(flag) => {
            let regrouped = groups::regroup(&**client, tenant).await?;
            print(flag.json, &serde_json::json!({"regrouped": regrouped}), || {
                format!("{regrouped} numbers changed group")
            })
        }
    }
}
