//! Households and related numbers: numbers sharing normalised attributes an administrator
//! names (a contact id; an address; a name and a region) form a group. Allocation can keep
//! a group in one project, a success on one number can park the others, and explain
//! shows a number's group.
//!
//! A number's group is a key stored on the number (`group_key`, indexed where set),
//! computed by `dialpool_group_key` from its attributes and the tenant's rules: on
//! import for the rows it writes, and for every number when the rules change.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupRule {
    pub id: i64,
    pub name: String,
    /// The attribute names (file headers) whose values together make the group.
    pub attributes: Vec<String>,
    /// Once a number of a group is in a project, the group's other numbers go only there.
    pub keep_together: bool,
    /// A success on one number parks the group's other numbers.
    pub park_on_success: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRuleInput {
    pub name: String,
    pub attributes: Vec<String>,
    #[serde(default = "yes")]
    pub keep_together: bool,
    #[serde(default = "yes")]
    pub park_on_success: bool,
}

fn yes() -> bool {
    true
}

/// What the status of a parked number is called; created for the tenant on first use.
pub const PARKED_STATUS: &str = "group_reached";

/// The tenant's rules as `dialpool_group_key` takes them: ids, and each rule's attribute
/// names joined by the unit separator (a name may not contain it).
pub(crate) async fn rule_arrays(
    client: &impl GenericClient,
    tenant: TenantId,
) -> Result<(Vec<i64>, Vec<String>)> {
    let rows = client
        .query(
            "SELECT id, array_to_string(attributes, chr(31)) FROM number_group_rules WHERE tenant_id = $1 ORDER BY id",
            &[&tenant.0],
        )
        .await?;
    Ok((rows.iter().map(|r| r.get(0)).collect(), rows.iter().map(|r| r.get(1)).collect()))
}

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<GroupRule>> {
    Ok(client
        .query(
            "SELECT id, name, attributes, keep_together, park_on_success, created_at
               FROM number_group_rules WHERE tenant_id = $1 ORDER BY id",
            &[&tenant.0],
        )
        .await?
        .iter()
        .map(|r| GroupRule {
            id: r.get(0),
            name: r.get(1),
            attributes: r.get(2),
            keep_together: r.get(3),
            park_on_success: r.get(4),
            created_at: r.get(5),
        })
        .collect())
}

/// Adds a rule and regroups the tenant's numbers; returns the rule and how many numbers
/// changed group.
pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &GroupRuleInput,
) -> Result<(GroupRule, i64)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "must be 1 to 100 characters"));
    }
    let attributes: Vec<String> = input.attributes.iter().map(|a| a.trim().to_owned()).collect();
    if attributes.is_empty() || attributes.len() > 5 {
        return Err(Error::invalid("attributes", "name 1 to 5 attributes (column headers), e.g. contact_id"));
    }
    if let Some(bad) =
        attributes.iter().find(|a| a.is_empty() || a.chars().count() > 64 || a.contains('\u{1f}'))
    {
        return Err(Error::invalid(
            "attributes",
            format!("'{bad}' is not an attribute name of 1 to 64 characters"),
        ));
    }
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO number_group_rules (tenant_id, name, attributes, keep_together, park_on_success)
             VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at",
            &[&tenant.0, &name, &attributes, &input.keep_together, &input.park_on_success],
        )
        .await
        .map_err(|e| map_unique_violation(e, "number_group_rules_tenant_id_name_key", "group rule", name))?;
    let rule = GroupRule {
        id: row.get(0),
        name: name.to_owned(),
        attributes,
        keep_together: input.keep_together,
        park_on_success: input.park_on_success,
        created_at: row.get(1),
    };
    audit::record(&tx, tenant, actor, Change::created("group_rule.create", "group_rule", rule.id, &rule))
        .await?;
    let changed = regroup(&tx, tenant).await?;
    tx.commit().await?;
    Ok((rule, changed))
}

pub async fn delete(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<i64> {
    let tx = client.transaction().await?;
    let before = list(&tx, tenant).await?.into_iter().find(|r| r.id == id);
    let Some(before) = before else {
        return Err(Error::NotFound { entity: "group rule", key: id.to_string() });
    };
    tx.execute("DELETE FROM number_group_rules WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &id]).await?;
    audit::record(&tx, tenant, actor, Change::deleted("group_rule.delete", "group_rule", id, &before))
        .await?;
    let changed = regroup(&tx, tenant).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Recomputes every number's group under the current rules; returns how many changed.
/// One pass over the tenant's numbers, writing only the ones whose group changes.
pub async fn regroup(client: &impl GenericClient, tenant: TenantId) -> Result<i64> {
    let (ids, names) = rule_arrays(client, tenant).await?;
    Ok(client
        .execute(
            "UPDATE phone_numbers n SET group_key = dialpool_group_key(n.attributes, $2, $3)
              WHERE n.tenant_id = $1 AND n.group_key IS DISTINCT FROM dialpool_group_key(n.attributes, $2, $3)",
            &[&tenant.0, &ids, &names],
        )
        .await? as i64)
}

/// The rules (their ids as the top bits of a key hold them) that keep a group in one project.
pub(crate) async fn keep_together_ids(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT id & 32767 FROM number_group_rules WHERE tenant_id = $1 AND keep_together",
            &[&tenant.0],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The project a free number is reserved for because its group is already there (the
/// lowest such project's id, so counting and picking agree), under rules that keep
/// groups together (`$param`: their ids as keys hold them); NULL otherwise, and a
/// constant when no rule keeps groups together (`active` false).
pub(crate) fn reserved_sql(param: usize, active: bool) -> String {
    if !active {
        return "NULL::bigint".to_owned();
    }
    format!(
        "CASE WHEN n.group_key IS NULL OR n.project_id IS NOT NULL
                  OR NOT ((n.group_key >> 48) = ANY(${param}::bigint[])) THEN NULL
              ELSE (SELECT min(h.project_id) FROM phone_numbers h
                     WHERE h.tenant_id = n.tenant_id AND h.group_key = n.group_key AND h.project_id IS NOT NULL) END"
    )
}

/// A number's group as explain shows it: the rule, the values' key, and the other numbers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NumberGroup {
    pub rule_id: i64,
    pub rule: String,
    pub attributes: Vec<String>,
    /// Numbers in the group, this one included.
    pub size: i64,
    /// The other numbers (up to 20), with the project holding each, if any.
    pub others: Vec<GroupMember>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupMember {
    pub phone: String,
    pub project_id: Option<i64>,
    pub status: i16,
}

pub async fn of_number(
    client: &impl GenericClient,
    tenant: TenantId,
    phone: i64,
) -> Result<Option<NumberGroup>> {
    let Some(row) = client
        .query_opt(
            "SELECT n.group_key, r.id, r.name, r.attributes
               FROM phone_numbers n
               JOIN number_group_rules r ON r.tenant_id = n.tenant_id
                AND dialpool_group_key(n.attributes, ARRAY[r.id], ARRAY[array_to_string(r.attributes, chr(31))]) = n.group_key
              WHERE n.tenant_id = $1 AND n.phone = $2 AND n.group_key IS NOT NULL",
            &[&tenant.0, &phone],
        )
        .await?
    else {
        return Ok(None);
    };
    let key: i64 = row.get(0);
    let members = client
        .query(
            "SELECT phone, project_id, status FROM phone_numbers
              WHERE tenant_id = $1 AND group_key = $2 ORDER BY phone LIMIT 21",
            &[&tenant.0, &key],
        )
        .await?;
    let size: i64 = client
        .query_one(
            "SELECT count(*) FROM phone_numbers WHERE tenant_id = $1 AND group_key = $2",
            &[&tenant.0, &key],
        )
        .await?
        .get(0);
    Ok(Some(NumberGroup {
        rule_id: row.get(1),
        rule: row.get(2),
        attributes: row.get(3),
        size,
        others: members
            .iter()
            .filter(|m| m.get::<_, i64>(0) != phone)
            .take(20)
            .map(|m| GroupMember {
                phone: crate::intake::phone::format_e164(m.get(0)),
                project_id: m.get(1),
                status: m.get(2),
            })
            .collect(),
    }))
}

/// The rules whose groups a success parks (usually none: then an outcome needs nothing
/// more than this one lookup).
pub async fn parking_rules(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT id FROM number_group_rules WHERE tenant_id = $1 AND park_on_success ORDER BY id",
            &[&tenant.0],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// After a success on `phones`: the other numbers of their groups under one of the
/// `parking` rules, not leased now and not already final, move to the parked status
/// (category failure: final, reached through the group, never dialled again), each with
/// an event naming the number that succeeded. Returns how many were parked.
pub async fn park_after_success(
    client: &impl GenericClient,
    tenant: TenantId,
    parking: &[i64],
    phones: &[i64],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    if parking.is_empty() || phones.is_empty() {
        return Ok(0);
    }
    client
        .execute(
            "INSERT INTO number_statuses (tenant_id, id, code, name, category)
             SELECT $1, COALESCE(max(id), 0) + 1, $2, 'Reached in its group', 'failure'
               FROM number_statuses WHERE tenant_id = $1
             ON CONFLICT DO NOTHING",
            &[&tenant.0, &PARKED_STATUS],
        )
        .await?;
    let parked = client
        .execute(
            "WITH won AS (
                SELECT n.phone, n.group_key FROM phone_numbers n
                 WHERE n.tenant_id = $1 AND n.phone = ANY($2) AND n.group_key IS NOT NULL
                   AND EXISTS (SELECT FROM number_group_rules r WHERE r.tenant_id = $1 AND r.id = ANY($3)
                                AND dialpool_group_key(n.attributes, ARRAY[r.id], ARRAY[array_to_string(r.attributes, chr(31))]) = n.group_key)
             ), parked AS (
                UPDATE phone_numbers m
                   SET status = (SELECT id FROM number_statuses WHERE tenant_id = $1 AND code = $4),
                       next_eligible_at = NULL, leased_until = NULL, updated_at = now()
                  FROM won w
                 WHERE m.tenant_id = $1 AND m.group_key = w.group_key AND m.phone <> ALL($2)
                   AND (m.leased_until IS NULL OR m.leased_until <= $5)
                   AND m.status IN (SELECT id FROM number_statuses
                                     WHERE tenant_id = $1 AND category IN ('fresh', 'retry', 'callback', 'in_work'))
                RETURNING m.phone, m.project_id, m.provider_id, m.geo_id, m.status, w.phone AS won_by
             )
             INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id, status_to, data)
             SELECT $1, $5, phone, 'status_changed', project_id, provider_id, geo_id, status,
                    jsonb_build_object('group_success', won_by)
               FROM parked",
            &[&tenant.0, &phones, &parking, &PARKED_STATUS, &at],
        )
        .await?;
    Ok(parked as i64)
}
