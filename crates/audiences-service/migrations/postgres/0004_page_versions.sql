-- A version per audience that every write to its prospects moves, in the
-- writing transaction: an instance keeps the pages it served with the
-- version they were read at, and serves one again while the audience's
-- version has not moved (src/store/page_cache.rs). The request statement
-- reads the version beside the token, so a write committed anywhere is seen
-- by the next request of every instance, as without the cache.
--
-- Versions come from one sequence: no two states of any audiences share a
-- version, even across an audience deleted and created again.
CREATE SEQUENCE audience_versions;
ALTER TABLE audiences ADD COLUMN version BIGINT NOT NULL DEFAULT nextval('audience_versions');

-- Moves the version of every audience a statement on `prospects` touched
-- (both audiences of a row moved between two), or of all of them on
-- TRUNCATE: one UPDATE per statement, not per row. As its owner (a program
-- allowed to write prospects needs no grant on `audiences` or the
-- sequence), on the search path it was created with.
CREATE FUNCTION prospects_moved() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE audiences SET version = nextval('audience_versions')
        WHERE id IN (SELECT audience_id FROM new_rows);
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE audiences SET version = nextval('audience_versions')
        WHERE id IN (SELECT audience_id FROM new_rows UNION SELECT audience_id FROM old_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE audiences SET version = nextval('audience_versions')
        WHERE id IN (SELECT audience_id FROM old_rows);
    ELSE
        UPDATE audiences SET version = nextval('audience_versions');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER prospects_inserted AFTER INSERT ON prospects
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION prospects_moved();
CREATE TRIGGER prospects_updated AFTER UPDATE ON prospects
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION prospects_moved();
CREATE TRIGGER prospects_deleted AFTER DELETE ON prospects
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION prospects_moved();
CREATE TRIGGER prospects_truncated AFTER TRUNCATE ON prospects
    FOR EACH STATEMENT EXECUTE FUNCTION prospects_moved();

-- Fired in every session_replication_role, so that rows a logical
-- replication (or a restore run as a replica) writes move the version too.
ALTER TABLE prospects ENABLE ALWAYS TRIGGER prospects_inserted;
ALTER TABLE prospects ENABLE ALWAYS TRIGGER prospects_updated;
ALTER TABLE prospects ENABLE ALWAYS TRIGGER prospects_deleted;
ALTER TABLE prospects ENABLE ALWAYS TRIGGER prospects_truncated;
