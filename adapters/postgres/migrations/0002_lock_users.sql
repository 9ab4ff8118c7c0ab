-- extprod schema version 2: the locks of a shared creation transaction. The adapter gathers the
-- one-card creations that wait at the same moment into one transaction (one commit, one WAL
-- flush, for all of them). extprod_lock_users takes the per-user locks of extprod_open_order_free
-- for every user of such a transaction, in sorted order, so that two of them cannot deadlock;
-- each card's insert then checks its user's open cards itself (with a snapshot taken after the
-- locks were granted) and inserts nothing when one is open, which refuses that order alone.
CREATE FUNCTION extprod_lock_users(lock_class integer, uids text[])
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    uid text;
BEGIN
    FOR uid IN SELECT DISTINCT u FROM unnest(uids) AS u ORDER BY u LOOP
        PERFORM pg_advisory_xact_lock(lock_class, hashtext(uid));
    END LOOP;
END
$$;
