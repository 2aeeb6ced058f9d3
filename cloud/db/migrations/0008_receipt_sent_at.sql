-- When a receipt for this device and kind last went out, from any ingest slot.
-- Each slot coalesces its own receipts; this shared time keeps the contract's
-- "at most one per device per second" when a device's messages land on
-- several slots in the same second (store.claim_receipts).
ALTER TABLE receipt_cursor ADD COLUMN sent_at timestamptz;
