//! What one deployment deploys, frozen when it is queued: the application's source, runtime
//! configuration and replicas, and its environment variables as they were then (secret values
//! still sealed by the store's cipher). A rollback queues the same snapshot again, so it deploys
//! exactly what the earlier deployment did, environment included.
//!
//! Stored as JSON with a `version`. Version 1 (written before environments were recorded) has
//! no `env`; such a snapshot deploys the application's environment of the moment it runs, as it
//! always did, and cannot be rolled back to. Anything else that does not parse is corrupt: it is
//! never replaced by today's configuration.

use serde::{Deserialize, Serialize};

use crate::{Application, ApplicationSource, EnvKey, Replicas, RuntimeConfig};

/// The version written today.
pub const SNAPSHOT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSnapshot {
    pub version: u32,
    pub source: ApplicationSource,
    pub runtime: RuntimeConfig,
    pub replicas: Replicas,
    /// The environment, ordered by key; `None` only in version 1 snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<SnapshotVar>>,
}

/// One environment variable as a deployment saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotVar {
    pub key: EnvKey,
    pub value: SnapshotValue,
}

/// A plain value as written, or a secret's value as the store sealed it (never the plaintext).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SnapshotValue {
    Plain(String),
    Sealed(Sealed),
}

/// A secret value encrypted at rest, carried as hexadecimal. Only the store can open it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(pub Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed([encrypted])")
    }
}

impl Serialize for Sealed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use std::fmt::Write;
        let mut out = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            let _ = write!(out, "{b:02x}");
        }
        s.serialize_str(&out)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(serde::de::Error::custom("sealed value of odd length"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("sealed value is not hexadecimal"))
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Sealed)
    }
}

/// Why a stored snapshot cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable deployment snapshot: {0}")]
pub struct SnapshotError(pub String);

impl DeploymentSnapshot {
    /// The application's configuration now, with the environment given (ordered by key here).
    pub fn of(app: &Application, mut env: Vec<SnapshotVar>) -> Self {
        env.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        Self {
            version: SNAPSHOT_VERSION,
            source: app.source.clone(),
            runtime: app.runtime.clone(),
            replicas: app.replicas,
            env: Some(env),
        }
    }

    /// Reads a stored snapshot: version 2, or version 1 (no `version` field, no environment).
    pub fn from_json(value: serde_json::Value) -> Result<Self, SnapshotError> {
        let version = match value.get("version") {
            None => 1,
            Some(v) => v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| SnapshotError(format!("version {v} is not a number")))?,
        };
        match version {
            1 => {
                #[derive(Deserialize)]
                struct V1 {
                    source: ApplicationSource,
                    runtime: RuntimeConfig,
                    replicas: Replicas,
                }
                let v1: V1 =
                    serde_json::from_value(value).map_err(|e| SnapshotError(e.to_string()))?;
                Ok(Self {
                    version: 1,
                    source: v1.source,
                    runtime: v1.runtime,
                    replicas: v1.replicas,
                    env: None,
                })
            }
            SNAPSHOT_VERSION => {
                let s: Self =
                    serde_json::from_value(value).map_err(|e| SnapshotError(e.to_string()))?;
                if s.env.is_none() {
                    return Err(SnapshotError("version 2 without an environment".into()));
                }
                Ok(s)
            }
            other => Err(SnapshotError(format!(
                "version {other} is newer than this berth ({SNAPSHOT_VERSION})"
            ))),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_app_json() -> serde_json::Value {
        serde_json::json!({
            "source": { "type": "image", "image": "berth-base:latest" },
            "runtime": {},
            "replicas": 2
        })
    }

    #[test]
    fn version_one_reads_without_an_environment() {
        let s = DeploymentSnapshot::from_json(image_app_json()).unwrap();
        assert_eq!(s.version, 1);
        assert_eq!(s.env, None);
        assert_eq!(s.replicas.get(), 2);
    }

    #[test]
    fn version_two_round_trips_with_sealed_secrets() {
        let mut v = image_app_json();
        v["version"] = 2.into();
        v["env"] = serde_json::json!([
            { "key": "A", "value": { "plain": "1" } },
            { "key": "B", "value": { "sealed": "01ff" } }
        ]);
        let s = DeploymentSnapshot::from_json(v.clone()).unwrap();
        let env = s.env.as_ref().unwrap();
        assert_eq!(env[1].value, SnapshotValue::Sealed(Sealed(vec![1, 255])));
        assert_eq!(DeploymentSnapshot::from_json(s.to_json()).unwrap(), s);
        assert!(!format!("{s:?}").contains("01ff"));
    }

    #[test]
    fn anything_else_is_an_error() {
        for bad in [
            serde_json::json!({}),
            serde_json::json!({ "version": 3 }),
            serde_json::json!({ "version": "2" }),
            {
                let mut v = image_app_json();
                v["version"] = 2.into();
                v
            },
            {
                let mut v = image_app_json();
                v["version"] = 2.into();
                v["env"] = serde_json::json!([{ "key": "B", "value": { "sealed": "xyz" } }]);
                v
            },
        ] {
            assert!(DeploymentSnapshot::from_json(bad.clone()).is_err(), "{bad}");
        }
    }
}
