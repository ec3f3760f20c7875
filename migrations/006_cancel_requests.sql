-- Customer cancel requests (POST /orders/{id}/cancel): when one was recorded
-- for an open order. Set once, in the transaction that also writes the
-- order.cancel.requested outbox event, so a repeated request changes nothing.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS cancel_requested_at timestamptz;
