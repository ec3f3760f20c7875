-- The W3C trace context (traceparent) of the request that created an order:
-- the order's later steps that no event starts (the deadline, a step after
-- rehydration) continue its trace. NULL: the order carries no trace.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS traceparent text;
