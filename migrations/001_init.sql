-- Troupe schema: orders and their timeline, the transactional outbox, the
-- idempotency ledger shared by every consumer, and the per-service state.

CREATE TABLE orders (
  id               uuid        PRIMARY KEY,
  customer_email   text        NOT NULL,
  item_sku         text        NOT NULL,
  quantity         integer     NOT NULL CHECK (quantity >= 1),
  amount_cents     bigint      NOT NULL CHECK (amount_cents >= 0),
  status           text        NOT NULL DEFAULT 'NEW',
  reason           text,
  correlation_id   text        NOT NULL,
  idempotency_key  text        UNIQUE,
  payment_status   text,       -- APPROVED | DECLINED, as seen by the orchestrator
  inventory_status text,       -- RESERVED | QUANTITY_LIMIT | OUT_OF_STOCK
  deadline_at      timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  finalized_at     timestamptz
);
CREATE INDEX orders_created_at ON orders (created_at DESC);
CREATE INDEX orders_status_created_at ON orders (status, created_at DESC);
CREATE INDEX orders_open ON orders (deadline_at) WHERE status = 'NEW';

CREATE TABLE order_timeline (
  id       bigserial   PRIMARY KEY,
  order_id uuid        NOT NULL REFERENCES orders (id),
  at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind     text        NOT NULL,
  detail   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX order_timeline_order ON order_timeline (order_id, id);

CREATE TABLE outbox (
  id           bigserial   PRIMARY KEY,
  topic        text        NOT NULL,
  key          text        NOT NULL,
  payload      text        NOT NULL,
  headers      jsonb       NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('troupe_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE processed_events (
  consumer     text        NOT NULL,
  event_id     text        NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (consumer, event_id)
);

CREATE TABLE payments (
  order_id     uuid        PRIMARY KEY,
  approved     boolean     NOT NULL,
  reason       text,
  amount_cents bigint      NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  refunded_at  timestamptz
);

CREATE TABLE stock (
  sku       text   PRIMARY KEY,
  available bigint NOT NULL CHECK (available >= 0)
);

CREATE TABLE reservations (
  order_id    uuid        PRIMARY KEY,
  sku         text        NOT NULL,
  quantity    integer     NOT NULL,
  status      text        NOT NULL, -- RESERVED | RELEASED
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  released_at timestamptz
);

CREATE TABLE notifications (
  order_id   uuid        NOT NULL,
  status     text        NOT NULL,
  reason     text,
  channel    text        NOT NULL DEFAULT 'email',
  recipient  text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (order_id, status)
);

CREATE TABLE analytics_sku_daily (
  day          date   NOT NULL,
  sku          text   NOT NULL,
  orders       bigint NOT NULL DEFAULT 0,
  quantity     bigint NOT NULL DEFAULT 0,
  amount_cents bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, sku)
);
