//! The audit log's monthly partitions on Postgres (migration 14 says why the table is
//! partitioned). [`Store::maintain_partitions`] keeps a partition for every month with entries
//! and for a few months ahead, so a new entry does not land in the default partition, and drops
//! whole months that retention no longer keeps. Whatever the default partition took (entries
//! from before the upgrade, or a clock that jumped past the months made ahead) moves into its
//! month's new partition, so every month ends up in one place that can be dropped at once.
//!
//! Partition names are made here from numbers (`audit_log_y2026m12`), never from user input.
//! Each change runs in a transaction of its own that waits at most a few seconds for its locks
//! (creating or dropping a partition locks the whole table briefly): a busy moment postpones
//! the work to the next round instead of holding requests up.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sea_orm::{ConnectionTrait, Statement};

use crate::{Actor, Backend, Store, StoreError};

/// Months made ahead of the current one.
const AHEAD: u32 = 3;

/// A calendar month in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    fn of(t: DateTime<Utc>) -> Self {
        Self {
            year: t.year(),
            month: t.month(),
        }
    }

    fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first instant, as a Postgres literal.
    fn start(self) -> String {
        format!("{:04}-{:02}-01 00:00:00+00", self.year, self.month)
    }

    fn start_time(self) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
    }

    fn partition(self) -> String {
        format!("audit_log_y{:04}m{:02}", self.year, self.month)
    }

    fn from_partition(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("audit_log_y")?;
        let (year, month) = rest.split_once('m')?;
        Self::checked(year.parse().ok()?, month.parse().ok()?)
    }

    /// From `YYYY-MM`.
    fn from_label(label: &str) -> Option<Self> {
        let (year, month) = label.split_once('-')?;
        Self::checked(year.parse().ok()?, month.parse().ok()?)
    }

    fn checked(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(Self { year, month })
    }
}

/// What one round of maintenance did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionReport {
    /// Months that got a partition.
    pub created: usize,
    /// Months dropped, and the entries that went with them.
    pub dropped: usize,
    pub dropped_entries: u64,
}

impl Store {
    /// On Postgres, gives a partition of its own to every month from `now` to three months
    /// after and to every month of an entry in the default partition (moving those entries
    /// into it), then drops the months that ended before `drop_before`. Nothing on SQLite,
    /// whose audit log is a plain table (retention deletes its rows).
    pub async fn maintain_partitions(
        &self,
        now: DateTime<Utc>,
        drop_before: Option<DateTime<Utc>>,
    ) -> Result<PartitionReport, StoreError> {
        let mut report = PartitionReport::default();
        if self.backend != Backend::Postgres {
            return Ok(report);
        }
        let existing = self.audit_partitions().await?;
        let mut wanted = self.stray_months().await?;
        let mut month = Month::of(now);
        for _ in 0..=AHEAD {
            wanted.push(month);
            month = month.next();
        }
        wanted.sort();
        wanted.dedup();
        let mut moved = 0;
        for month in wanted.into_iter().filter(|m| !existing.contains(m)) {
            moved += self.create_partition(month).await?;
            report.created += 1;
        }
        if moved > 0 {
            // The moved rows are dead in the default partition, whose index every read of the
            // log still walks (a million of them made the newest page take 7 ms instead of
            // 0.5) until autovacuum comes by; clean them now.
            self.db
                .execute_unprepared("VACUUM (ANALYZE) audit_log_default")
                .await?;
        }
        if let Some(before) = drop_before {
            for month in self.audit_partitions().await? {
                let ends = month.next().start_time();
                if ends.is_some_and(|end| end <= before) {
                    report.dropped_entries += self.drop_partition(month).await?;
                    report.dropped += 1;
                }
            }
        }
        Ok(report)
    }

    /// The months that have a partition, in order.
    async fn audit_partitions(&self) -> Result<Vec<Month>, StoreError> {
        let rows = self
            .db
            .query_all(Statement::from_string(
                self.backend.sea(),
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'audit_log'::regclass",
            ))
            .await?;
        let mut months = rows
            .iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .filter_map(|name| Month::from_partition(&name))
            .collect::<Vec<_>>();
        months.sort();
        Ok(months)
    }

    /// The months of the entries in the default partition.
    async fn stray_months(&self) -> Result<Vec<Month>, StoreError> {
        let scope = self.read_scope(Actor::System).await?;
        let rows = scope
            .connection()
            .query_all(Statement::from_string(
                self.backend.sea(),
                "SELECT DISTINCT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') \
                 FROM audit_log_default",
            ))
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .filter_map(|label| Month::from_label(&label))
            .collect())
    }

    /// Makes `month`'s partition, moving its entries out of the default partition (Postgres
    /// refuses a partition whose rows the default one holds); returns how many moved.
    async fn create_partition(&self, month: Month) -> Result<u64, StoreError> {
        let (name, from, to) = (month.partition(), month.start(), month.next().start());
        let scope = self.scope(Actor::System).await?;
        let conn = scope.connection();
        conn.execute_unprepared(
            "SET LOCAL lock_timeout = '5s';
             CREATE TEMP TABLE berth_moving (LIKE audit_log) ON COMMIT DROP;",
        )
        .await?;
        let moved = conn
            .execute_unprepared(&format!(
                "WITH moved AS (
                   DELETE FROM audit_log_default
                   WHERE created_at >= '{from}' AND created_at < '{to}' RETURNING *)
                 INSERT INTO berth_moving SELECT * FROM moved"
            ))
            .await?
            .rows_affected();
        conn.execute_unprepared(&format!(
            "CREATE TABLE {name} PARTITION OF audit_log FOR VALUES FROM ('{from}') TO ('{to}');
             ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {name} FORCE ROW LEVEL SECURITY;
             INSERT INTO audit_log SELECT * FROM berth_moving;"
        ))
        .await?;
        scope.commit().await?;
        tracing::debug!(partition = %name, moved, "audit log partition made");
        Ok(moved)
    }

    /// Drops `month`'s partition; returns how many entries it held.
    async fn drop_partition(&self, month: Month) -> Result<u64, StoreError> {
        let (name, from, to) = (month.partition(), month.start(), month.next().start());
        let scope = self.scope(Actor::System).await?;
        let conn = scope.connection();
        conn.execute_unprepared("SET LOCAL lock_timeout = '5s'")
            .await?;
        let count = conn
            .query_one(Statement::from_string(
                self.backend.sea(),
                format!(
                    "SELECT count(*) FROM audit_log WHERE created_at >= '{from}' AND created_at < '{to}'"
                ),
            ))
            .await?
            .map(|r| r.try_get_by_index::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        conn.execute_unprepared(&format!("DROP TABLE {name}"))
            .await?;
        scope.commit().await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_name_their_partitions_and_roll_over_the_year() {
        let december = Month::of(Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap());
        assert_eq!(december.partition(), "audit_log_y2026m12");
        assert_eq!(december.next().start(), "2027-01-01 00:00:00+00");
        assert_eq!(Month::from_partition("audit_log_y2026m12"), Some(december));
        assert_eq!(Month::from_label("2026-12"), Some(december));
        assert_eq!(Month::from_partition("audit_log_default"), None);
        assert_eq!(Month::from_partition("audit_log_y2026m13"), None);
    }
}
