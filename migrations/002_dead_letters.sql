-- Messages that could not be processed, kept for operators to inspect and
-- redrive; each is also published to `<topic>.dlq` through the outbox.
CREATE TABLE dead_letters (
  id             bigserial   PRIMARY KEY,
  topic          text        NOT NULL,
  kafka_partition integer    NOT NULL,
  kafka_offset   bigint      NOT NULL,
  key            text,
  payload        text        NOT NULL,
  error          text        NOT NULL,
  attempts       integer     NOT NULL,
  first_failure  timestamptz NOT NULL,
  last_failure   timestamptz NOT NULL,
  correlation_id text,
  consumer       text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  redriven_at    timestamptz,
  UNIQUE (consumer, topic, kafka_partition, kafka_offset)
);
