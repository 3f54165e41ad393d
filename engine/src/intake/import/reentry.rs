//! Look-back windows, as the lead platforms and VICIdial's DUPLIST/DUPCAMP/DUPSYS have
//! them: what a number stored before becomes when a provider sends it again. `skip`
//! leaves it (a duplicate, as always); `refresh` brings it back to the pool fresh once
//! `after_days` have passed since it was stored or last refreshed, keeping its history;
//! `refresh_if_status` does so only from the given status categories (e.g. `failure`
//! after 90 days).
//!
//! The scope says which stored numbers the rule may refresh: `system` any (the number
//! moves to the sending provider), `provider` only the sending provider's own, `project`
//! only numbers a project holds, refreshed within that project. A number on the
//! do-not-call list, leased right now, in a `dnc` status, or held by an exclusive project
//! (unless the scope is `project`) is never refreshed.

use serde::{Deserialize, Serialize};

use crate::platform::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReentryMode {
    #[default]
    Skip,
    Refresh,
    RefreshIfStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReentryScope {
    #[default]
    System,
    Provider,
    Project,
}

impl ReentryScope {
    pub fn name(self) -> &'static str {
        match self {
            ReentryScope::System => "system",
            ReentryScope::Provider => "provider",
            ReentryScope::Project => "project",
        }
    }
}

/// Status categories a `refresh_if_status` rule may name; `dnc` never comes back.
const CATEGORIES: &[&str] = &["fresh", "in_work", "retry", "callback", "success", "failure", "invalid"];

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReentryRule {
    pub mode: ReentryMode,
    /// Days since the number was stored (or last refreshed) before it may come back.
    #[serde(default)]
    pub after_days: i32,
    /// For `refresh_if_status`: the status categories it may come back from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default)]
    pub scope: ReentryScope,
}

impl ReentryRule {
    pub fn is_skip(&self) -> bool {
        self.mode == ReentryMode::Skip
    }

    /// Checks the rule; `field` names it in the error.
    pub fn validate(self, field: &'static str) -> Result<ReentryRule> {
        if !(0..=3650).contains(&self.after_days) {
            return Err(Error::invalid(field, format!("after_days {} must be 0 to 3650", self.after_days)));
        }
        match self.mode {
            ReentryMode::RefreshIfStatus if self.categories.is_empty() => {
                return Err(Error::invalid(
                    field,
                    "refresh_if_status needs the categories it refreshes from",
                ));
            }
            ReentryMode::Skip | ReentryMode::Refresh if !self.categories.is_empty() => {
                return Err(Error::invalid(field, "categories belong to refresh_if_status only"));
            }
            _ => {}
        }
        if let Some(bad) = self.categories.iter().find(|c| !CATEGORIES.contains(&c.as_str())) {
            return Err(Error::invalid(
                field,
                format!("'{bad}' is not a category a number may come back from ({})", CATEGORIES.join(", ")),
            ));
        }
        Ok(self)
    }

    /// From the command line's text: `skip`, `refresh:DAYS[:SCOPE]`,
    /// `refresh_if_status:DAYS:CATEGORY[,CATEGORY…][:SCOPE]`.
    pub fn parse(field: &'static str, text: &str) -> Result<ReentryRule> {
        let parts: Vec<&str> = text.trim().split(':').collect();
        let days = |value: Option<&&str>| -> Result<i32> {
            value
                .and_then(|d| d.trim().parse().ok())
                .ok_or_else(|| Error::invalid(field, format!("'{text}': give the days, e.g. refresh:30")))
        };
        let scope = |value: Option<&&str>| -> Result<ReentryScope> {
            match value.map(|s| s.trim()) {
                None | Some("system") => Ok(ReentryScope::System),
                Some("provider") => Ok(ReentryScope::Provider),
                Some("project") => Ok(ReentryScope::Project),
                Some(other) => {
                    Err(Error::invalid(field, format!("scope '{other}' is not system, provider or project")))
                }
            }
        };
        let rule = match parts[0].trim() {
            "skip" if parts.len() == 1 => ReentryRule::default(),
            "refresh" if (2..=3).contains(&parts.len()) => ReentryRule {
                mode: ReentryMode::Refresh,
                after_days: days(parts.get(1))?,
                categories: Vec::new(),
                scope: scope(parts.get(2))?,
            },
            "refresh_if_status" if (3..=4).contains(&parts.len()) => ReentryRule {
                mode: ReentryMode::RefreshIfStatus,
                after_days: days(parts.get(1))?,
                categories: parts[2]
                    .split(',')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .collect(),
                scope: scope(parts.get(3))?,
            },
            _ => {
                return Err(Error::invalid(
                    field,
                    format!(
                        "'{text}' is not skip, refresh:DAYS[:SCOPE] or refresh_if_status:DAYS:CATEGORIES[:SCOPE]"
                    ),
                ));
            }
        };
        rule.validate(field)
    }

    /// What the history and explain say of it: `refresh after 30 days (system)`.
    pub fn describe(&self) -> String {
        match self.mode {
            ReentryMode::Skip => "skip".to_owned(),
            ReentryMode::Refresh => format!("refresh after {} days ({})", self.after_days, self.scope.name()),
            ReentryMode::RefreshIfStatus => format!(
                "refresh from {} after {} days ({})",
                self.categories.join(", "),
                self.after_days,
                self.scope.name()
            ),
        }
    }
}

/// Refreshes the staged numbers the rule brings back, marks them `refreshed` in the
/// staging table (so the merge leaves them alone) and records a `refreshed` event for
/// each, with the rule. `$1` tenant, `$2` provider, `$3` import.
pub(super) const REFRESH_SQL: &str = "
WITH due AS (
    SELECT p.phone, p.status, p.project_id, s.ord
      FROM import_staging s
      JOIN phone_numbers p ON p.tenant_id = $1 AND p.phone = s.phone
      JOIN number_statuses st ON st.tenant_id = $1 AND st.id = p.status
     WHERE NOT s.dnc
       AND p.last_import_id <> $3
       AND p.leased_until IS NULL
       AND st.category <> 'dnc'
       AND ($6::text[] IS NULL OR st.category::text = ANY($6))
       AND COALESCE(p.refreshed_at, p.created_at) <= now() - make_interval(days => $4)
       AND ($5 <> 'provider' OR p.provider_id = $2)
       AND ($5 <> 'project' OR p.project_id IS NOT NULL)
       AND ($5 = 'project' OR p.project_id IS NULL OR NOT EXISTS (
               SELECT 1 FROM projects j WHERE j.tenant_id = $1 AND j.id = p.project_id AND j.exclusive))
     FOR UPDATE OF p
), refreshed AS (
    UPDATE phone_numbers p
       SET status = 0, attempts = 0, next_eligible_at = NULL,
           project_id = CASE WHEN $5 = 'project' THEN p.project_id END,
           allocated_at = CASE WHEN $5 = 'project' THEN now() END,
           provider_id = $2,
           geo_id = COALESCE(s.geo_id, p.geo_id),
           zone_set = COALESCE(s.zone_set, p.zone_set),
           attributes = p.attributes || s.attributes,
           last_import_id = $3, refreshed_at = now(), updated_at = clock_timestamp()
      FROM due d JOIN import_staging s ON s.ord = d.ord
     WHERE p.tenant_id = $1 AND p.phone = d.phone
    RETURNING p.phone, p.provider_id, p.geo_id
), marked AS (
    UPDATE import_staging s SET refreshed = true FROM due d WHERE s.ord = d.ord
), events AS (
    INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from, status_to,
                               import_id, data)
    SELECT $1, d.phone, 'refreshed', d.project_id, r.provider_id, r.geo_id, d.status, 0, $3,
           jsonb_build_object('rule', $7::text)
      FROM due d JOIN refreshed r ON r.phone = d.phone
)
SELECT count(*) FROM refreshed";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_text_and_refuse_what_they_cannot_mean() {
        assert!(ReentryRule::parse("r", "skip").unwrap().is_skip());
        let r = ReentryRule::parse("r", "refresh:30").unwrap();
        assert_eq!((r.mode, r.after_days, r.scope), (ReentryMode::Refresh, 30, ReentryScope::System));
        let r = ReentryRule::parse("r", "refresh_if_status:90:failure,invalid:provider").unwrap();
        assert_eq!(r.categories, ["failure", "invalid"]);
        assert_eq!(r.describe(), "refresh from failure, invalid after 90 days (provider)");
        for bad in [
            "refresh",
            "refresh:x",
            "refresh:-1",
            "refresh:30:galaxy",
            "refresh_if_status:90",
            "refresh_if_status:90:dnc",
            "sometimes",
        ] {
            assert!(ReentryRule::parse("r", bad).is_err(), "{bad}");
        }
        let json: ReentryRule =
            serde_json::from_value(serde_json::json!({"mode": "refresh", "after_days": 7})).unwrap();
        assert_eq!(json.scope, ReentryScope::System);
        assert!(
            serde_json::from_value::<ReentryRule>(serde_json::json!({"mode": "refresh", "days": 7})).is_err()
        );
    }
}
