-- Bytes that are not valid UTF-8 (a junk Kafka message, its key) cannot live
-- in text columns, and PostgreSQL refuses them there. Such rows keep a
-- readable rendition in the text column (each invalid byte shown as \xNN)
-- and their exact bytes in the *_raw column; NULL means the text is exact.
ALTER TABLE dead_letters ADD COLUMN key_raw bytea, ADD COLUMN payload_raw bytea;
ALTER TABLE outbox ADD COLUMN key_raw bytea, ADD COLUMN payload_raw bytea;

-- Rows that Kafka refuses for good (a message over the size limit, a topic
-- that does not exist) are set aside after their budget, with the cause, so
-- they never hold back the rows behind them. Operators list them with
-- GET /admin/outbox.
ALTER TABLE outbox
  ADD COLUMN attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN last_error text,
  ADD COLUMN set_aside_at timestamptz;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (id)
  WHERE published_at IS NULL AND set_aside_at IS NULL;
CREATE INDEX outbox_set_aside ON outbox (set_aside_at) WHERE set_aside_at IS NOT NULL;
