-- The proof a row passed the check every row passes before it is served
-- (one JSON object with its own id), written by the store beside the row
-- it wrote: the 128-bit XXH3 fingerprint of (id, data). A row whose data
-- still has that fingerprint is served without being parsed again; a row
-- without a proof (written before this column, or by another program) or
-- whose data changed is parsed (src/store/row_check.rs).
ALTER TABLE prospects ADD COLUMN proof BYTEA;
