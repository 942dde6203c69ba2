#!/usr/bin/env bash
# What chose how deployment log lines are partitioned on Postgres (crates/berth-store/README.md,
# "Partitions"): a million lines past retention in tables shaped like `deployment_logs`, one
# partitioned by hash of the deployment (as berth's), one by month; times retention's delete
# against dropping the month, and a page of 100 lines of a recent deployment (median of 20).
# Prints a Markdown table for docs/benchmarks.md. Runs under scripts/test-postgres.sh:
#   scripts/test-postgres.sh scripts/bench-partitions.sh
set -euo pipefail
url=${BERTH_TEST_PG_URL:?run under scripts/test-postgres.sh}
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -n1)
db=berth_bench_partitions
export PGOPTIONS=--client-min-messages=warning
"$psql" "$url" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap '"$psql" "$url" -X -q -c "DROP DATABASE IF EXISTS $db"' EXIT
PGOPTIONS= "$psql" "${url%/*}/$db" -X -q -v ON_ERROR_STOP=1 <<'SQL' 2>&1 | sed -n "s/^.*NOTICE:  //p"
CREATE TABLE by_hash (id bigserial, deployment_id uuid NOT NULL, seq bigint NOT NULL,
  message text NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (deployment_id, id))
  PARTITION BY HASH (deployment_id);
CREATE TABLE by_hash_0 PARTITION OF by_hash FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE by_hash_1 PARTITION OF by_hash FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE by_hash_2 PARTITION OF by_hash FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE by_hash_3 PARTITION OF by_hash FOR VALUES WITH (MODULUS 4, REMAINDER 3);
CREATE UNIQUE INDEX ON by_hash (deployment_id, seq);
CREATE INDEX ON by_hash (created_at);
CREATE TABLE by_month (id bigserial, deployment_id uuid NOT NULL, seq bigint NOT NULL,
  message text NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (created_at, id))
  PARTITION BY RANGE (created_at);
CREATE TABLE by_month_old PARTITION OF by_month FOR VALUES FROM ('2026-09-01') TO ('2026-10-01');
CREATE TABLE by_month_new PARTITION OF by_month FOR VALUES FROM ('2026-10-01') TO ('2027-01-01');
CREATE INDEX ON by_month (deployment_id, seq);
-- 1,000 deployments of 1,000 lines a month past retention, 100 recent ones.
INSERT INTO by_hash (deployment_id, seq, message, created_at)
  SELECT md5(d::text)::uuid, s, 'Step ' || s || ' : RUN make --jobs 2 all',
         '2026-09-10'::timestamptz + d * interval '1 minute'
  FROM generate_series(1, 1000) d, generate_series(1, 1000) s;
INSERT INTO by_hash (deployment_id, seq, message, created_at)
  SELECT md5('recent' || d)::uuid, s, 'Step ' || s || ' : RUN make --jobs 2 all', '2026-11-20'
  FROM generate_series(1, 100) d, generate_series(1, 1000) s;
INSERT INTO by_month (deployment_id, seq, message, created_at)
  SELECT deployment_id, seq, message, created_at FROM by_hash;
VACUUM ANALYZE by_hash;
VACUUM ANALYZE by_month;
DO $$
DECLARE
  t timestamptz;
  page_hash float8[] := '{}';
  page_month float8[] := '{}';
  n int;
  delete_ms float8;
  drop_ms float8;
  med_hash float8;
  med_month float8;
BEGIN
  FOR i IN 1..20 LOOP
    t := clock_timestamp();
    SELECT count(*) INTO n FROM (SELECT * FROM by_hash WHERE deployment_id = md5('recent5')::uuid
      AND seq > 900 ORDER BY seq LIMIT 100) x;
    page_hash := page_hash || extract(epoch FROM clock_timestamp() - t) * 1000;
    t := clock_timestamp();
    SELECT count(*) INTO n FROM (SELECT * FROM by_month WHERE deployment_id = md5('recent5')::uuid
      AND seq > 900 ORDER BY seq LIMIT 100) x;
    page_month := page_month || extract(epoch FROM clock_timestamp() - t) * 1000;
  END LOOP;
  t := clock_timestamp();
  DELETE FROM by_hash WHERE created_at < '2026-10-20';
  delete_ms := extract(epoch FROM clock_timestamp() - t) * 1000;
  t := clock_timestamp();
  DROP TABLE by_month_old;
  drop_ms := extract(epoch FROM clock_timestamp() - t) * 1000;
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) INTO med_hash FROM unnest(page_hash) v;
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) INTO med_month FROM unnest(page_month) v;
  RAISE NOTICE '| one million log lines past retention | by hash of the deployment (4) | by month |';
  RAISE NOTICE '|---|---|---|';
  RAISE NOTICE '| retention: delete the lines / drop the month (ms) | % | % |',
    round(delete_ms::numeric, 1), round(drop_ms::numeric, 1);
  RAISE NOTICE '| a page of 100 lines of a recent deployment, median of 20 (ms) | % | % |',
    round(med_hash::numeric, 3), round(med_month::numeric, 3);
END $$;
SQL
