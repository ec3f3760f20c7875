-- Fencing of saga writes: the owner of each partition of the result topics
-- and its generation. A node that gains a partition bumps the generation;
-- every saga write carries the generation its node saw and is refused once it
-- is stale (the partition moved to another node).
CREATE TABLE partition_owners (
  kafka_partition integer     PRIMARY KEY,
  owner           text        NOT NULL,
  generation      bigint      NOT NULL,
  claimed_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
