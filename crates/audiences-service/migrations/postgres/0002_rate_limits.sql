-- Rate limits shared by every instance on this database: one row per API
-- key holding its GCRA "theoretical arrival time" (seconds since the epoch,
-- by the database's clock, so that the instances' clocks do not matter).
CREATE TABLE rate_limits (
    key_id TEXT PRIMARY KEY,
    tat    DOUBLE PRECISION NOT NULL
);

-- Takes one request from `p_key`'s bucket of `p_burst` requests refilled
-- every `p_interval` seconds, in one statement (one round trip): the row
-- lock serializes the instances, so the limit holds exactly across them.
-- Returns whether the request is admitted, the requests left, the seconds
-- until the bucket is full again, and (when refused) the seconds until one
-- request is admitted.
CREATE FUNCTION rate_limit_take(p_key TEXT, p_interval DOUBLE PRECISION, p_burst INTEGER)
RETURNS TABLE (admitted BOOLEAN, remaining INTEGER, reset_seconds DOUBLE PRECISION, retry_after DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    now_s   DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
    span_s  DOUBLE PRECISION := p_interval * p_burst;
    old_tat DOUBLE PRECISION;
    new_tat DOUBLE PRECISION;
BEGIN
    INSERT INTO rate_limits (key_id, tat) VALUES (p_key, now_s) ON CONFLICT (key_id) DO NOTHING;
    SELECT tat INTO old_tat FROM rate_limits WHERE key_id = p_key FOR UPDATE;
    new_tat := GREATEST(old_tat, now_s) + p_interval;
    IF new_tat - now_s <= span_s + 1e-9 THEN
        UPDATE rate_limits SET tat = new_tat WHERE key_id = p_key;
        RETURN QUERY SELECT true, floor((span_s - (new_tat - now_s)) / p_interval + 1e-9)::INTEGER,
            new_tat - now_s, 0.0::DOUBLE PRECISION;
    ELSE
        RETURN QUERY SELECT false, 0, GREATEST(old_tat, now_s) - now_s, new_tat - now_s - span_s;
    END IF;
END
$$;
