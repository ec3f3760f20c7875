-- Retention (adapters/postgres/retention.cpp) deletes old rows in small
-- batches, oldest first; these indexes let each batch find its rows without
-- scanning the table. Plain CREATE INDEX takes a write lock for its build:
-- on a large existing database, create them beforehand with CREATE INDEX
-- CONCURRENTLY under the same names (IF NOT EXISTS then skips them here).
CREATE INDEX IF NOT EXISTS processed_events_processed_at
  ON processed_events (processed_at);
CREATE INDEX IF NOT EXISTS order_timeline_at ON order_timeline (at);
CREATE INDEX IF NOT EXISTS dead_letters_created_at ON dead_letters (created_at);
CREATE INDEX IF NOT EXISTS outbox_published_at
  ON outbox (published_at) WHERE published_at IS NOT NULL;
