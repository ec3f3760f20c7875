-- Orders with several lines: one row per SKU of an order (SKUs are unique
-- within an order), and one reservation row per line. Orders written before
-- lines existed get their one line from the order's own columns; for an
-- order with lines, orders.item_sku is the first line's SKU, orders.quantity
-- the total quantity and orders.amount_cents the sum of the lines.
CREATE TABLE IF NOT EXISTS order_lines (
  order_id         uuid    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          integer NOT NULL CHECK (line_no >= 1),
  sku              text    NOT NULL,
  quantity         integer NOT NULL CHECK (quantity >= 1),
  unit_price_cents bigint  NOT NULL CHECK (unit_price_cents >= 0),
  amount_cents     bigint  NOT NULL CHECK (amount_cents >= 0),
  PRIMARY KEY (order_id, line_no),
  UNIQUE (order_id, sku)
);

INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_cents,
                         amount_cents)
SELECT id, 1, item_sku, quantity, amount_cents / quantity, amount_cents
FROM orders
ON CONFLICT DO NOTHING;

-- A reservation per line: all lines of an order are reserved in one
-- transaction, or none.
ALTER TABLE reservations DROP CONSTRAINT IF EXISTS reservations_pkey;
ALTER TABLE reservations ADD PRIMARY KEY (order_id, sku);
