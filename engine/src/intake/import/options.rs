//! How to read a file, as every way in asks for it: the HTTP upload's form, a partner's
//! SFTP account, a remote host, a schedule and the CLI all build one [`ImportOptions`],
//! and the import job ([`ImportJob`]) carries it to the worker.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::mapping::ColumnMapping;
use super::source::{Format, SourceOptions};
use super::{ImportRequest, OnDuplicate};
use crate::intake::phone::Region;
use crate::platform::TenantId;
use crate::platform::audit::Actor;
use crate::platform::error::{Error, Result};
use crate::platform::job::{JobArgs, JobKind};

/// How to read a file and what to do with numbers already stored. Absent fields take
/// their defaults: the format and encoding detected, the first sheet, no region (numbers
/// must carry their country code), the provider's saved mapping, duplicates skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// `auto` (or absent), `csv`, `xlsx`, `xls`, `vicidial`.
    #[serde(default, with = "format_choice")]
    pub format: Option<Format>,
    pub encoding: Option<String>,
    pub sheet: Option<String>,
    pub region: Option<Region>,
    #[serde(default)]
    pub mapping: ColumnMapping,
    #[serde(default)]
    pub on_duplicate: OnDuplicate,
    /// Overrides the provider's re-entry rule.
    #[serde(default)]
    pub reentry: Option<super::reentry::ReentryRule>,
}

impl ImportOptions {
    /// From the text of a form or a command line, each value checked and named when wrong.
    pub fn from_text(
        format: Option<&str>,
        encoding: Option<String>,
        sheet: Option<String>,
        region: Option<&str>,
        mapping: Option<&str>,
        on_duplicate: Option<&str>,
        reentry: Option<&str>,
    ) -> Result<ImportOptions> {
        Ok(ImportOptions {
            format: Format::parse(format.unwrap_or("auto"))?,
            encoding: encoding.filter(|e| !e.is_empty()),
            sheet: sheet.filter(|s| !s.is_empty()),
            region: region.filter(|r| !r.is_empty()).map(Region::parse).transpose()?,
            mapping: ColumnMapping::parse(mapping.unwrap_or(""))?,
            on_duplicate: OnDuplicate::parse(on_duplicate.unwrap_or("skip"))?,
            reentry: reentry
                .filter(|r| !r.trim().is_empty())
                .map(|r| super::reentry::ReentryRule::parse("reentry", r))
                .transpose()?,
        })
    }

    /// Stored options (an SFTP account's or a remote's `import_options`), refusing what
    /// they cannot mean; `field` names them in the error.
    pub fn from_json(field: &'static str, value: &serde_json::Value) -> Result<ImportOptions> {
        stored_options(field, value)
    }

    /// An import of the file at `path` as the provider's, read with these options.
    pub fn request(
        &self,
        tenant: TenantId,
        provider_code: String,
        path: PathBuf,
        actor: Actor,
    ) -> ImportRequest {
        ImportRequest {
            tenant,
            provider_code,
            path,
            display_name: None,
            source: self.source(),
            region: self.region,
            mapping: self.mapping.clone(),
            on_duplicate: self.on_duplicate,
            rejects_path: None,
            actor,
            batch_rows: None,
            secret: None,
            reentry: self.reentry.clone(),
        }
    }

    /// How to read the file (format, encoding, sheet).
    pub fn source(&self) -> SourceOptions {
        SourceOptions { format: self.format, encoding: self.encoding.clone(), sheet: self.sheet.clone() }
    }
}

/// Options stored as JSON (an account's or a remote's), read as `T` with its unknown
/// fields refused; `field` names them in the error.
pub fn stored_options<T: serde::de::DeserializeOwned>(
    field: &'static str,
    value: &serde_json::Value,
) -> Result<T> {
    T::deserialize(value).map_err(|e| Error::invalid(field, e.to_string()))
}

/// `format` as its name, `auto` for detection.
mod format_choice {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Format;

    pub fn serialize<S: Serializer>(format: &Option<Format>, serializer: S) -> Result<S::Ok, S::Error> {
        match format {
            Some(format) => serde::Serialize::serialize(format, serializer),
            None => serializer.serialize_str("auto"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Format>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(name) => Format::parse(&name).map_err(serde::de::Error::custom),
        }
    }
}

/// Folders (absolute) a file that arrived by SFTP goes to once its import has an outcome:
/// the file to `processed/` or `errors/`, the summary, rejects or error to `outbox/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deliver {
    pub processed: PathBuf,
    pub errors: PathBuf,
    pub outbox: PathBuf,
}

/// The `import` job: a provider's file of numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportJob {
    /// The provider's code.
    pub provider: String,
    /// The file; a relative path is under the data directory.
    pub path: PathBuf,
    /// The name the user knows the file by.
    pub file_name: Option<String>,
    #[serde(flatten)]
    pub options: ImportOptions,
    /// Where the rejects go; beside the file when absent.
    pub rejects_path: Option<PathBuf>,
    /// For a file that arrived by SFTP: where it and its results go afterwards.
    pub deliver: Option<Deliver>,
    /// For an upload over HTTP: the file is removed once the import has its outcome.
    #[serde(default)]
    pub remove_file: bool,
}

impl JobArgs for ImportJob {
    const KIND: JobKind = JobKind::Import;
}

impl ImportJob {
    pub fn new(provider: String, path: PathBuf, options: ImportOptions) -> ImportJob {
        ImportJob {
            provider,
            path,
            file_name: None,
            options,
            rejects_path: None,
            deliver: None,
            remove_file: false,
        }
    }

    /// The import this job runs, its paths already resolved by the worker.
    pub fn request(
        &self,
        tenant: TenantId,
        path: PathBuf,
        rejects_path: Option<PathBuf>,
        actor: Actor,
    ) -> ImportRequest {
        let mut request = self.options.request(tenant, self.provider.clone(), path, actor);
        request.display_name = self.file_name.clone();
        request.rejects_path = rejects_path;
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::job::{Claim, read_args};

    fn claim(args: serde_json::Value) -> Claim {
        Claim {
            id: 7,
            tenant: None,
            kind: JobKind::Import,
            args,
            attempts: 1,
            max_attempts: 5,
            worker: "w".into(),
        }
    }

    #[test]
    fn an_import_job_reads_back_what_was_enqueued_with_typed_options() {
        let options = ImportOptions::from_text(
            Some("csv"),
            Some("windows-1251".into()),
            None,
            Some("ru"),
            Some("phone=2"),
            Some("update"),
            Some("refresh:30"),
        )
        .unwrap();
        let mut job = ImportJob::new("leadco".into(), "in/a.csv".into(), options);
        job.file_name = Some("a.csv".into());
        let new = job.job(None, Some(&Actor::system("test")));
        assert_eq!(new.kind, JobKind::Import);
        assert_eq!(new.args["region"], "RU");
        assert_eq!(new.args["format"], "csv");
        assert_eq!(new.args["on_duplicate"], "update");
        assert_eq!(new.args["actor"]["label"], "test");
        let read: ImportJob = read_args(&claim(new.args)).unwrap();
        assert_eq!(read, job);
    }

    #[test]
    fn hand_written_arguments_are_checked_by_the_same_types() {
        // As a schedule or `dialpool jobs enqueue` writes them: flat, options by name.
        let read: ImportJob = read_args(&claim(serde_json::json!({
            "provider": "leadco", "path": "a.csv", "format": "auto", "region": "KZ", "actor": {"label": "x"}
        })))
        .unwrap();
        assert_eq!(read.options.format, None);
        assert_eq!(read.options.region.unwrap().code(), "KZ");
        for (args, says) in [
            (serde_json::json!({"provider": "p", "path": "a", "regoin": "RU"}), "regoin"),
            (serde_json::json!({"provider": "p", "path": "a", "region": "XX"}), "ISO 3166"),
            (serde_json::json!({"provider": "p", "path": "a", "format": "pdf"}), "pdf"),
            (serde_json::json!({"provider": "p", "path": "a", "on_duplicate": "merge"}), "skip or update"),
            (serde_json::json!({"path": "a"}), "provider"),
        ] {
            let error = read_args::<ImportJob>(&claim(args.clone())).unwrap_err().to_string();
            assert!(error.contains(says), "{args}: {error}");
        }
    }

    #[test]
    fn stored_options_refuse_what_they_cannot_mean() {
        assert!(ImportOptions::from_json("import_options", &serde_json::json!({"region": "RU"})).is_ok());
        let error =
            ImportOptions::from_json("import_options", &serde_json::json!({"provider": "x"})).unwrap_err();
        assert!(error.to_string().contains("import_options"), "{error}");
    }
}
