-- extprod schema version 2: the one-open-order check of a single-card creation without PL/pgSQL
-- on its way. The adapter's pipelined creation takes the user's lock with a plain statement
-- (SELECT pg_advisory_xact_lock(lock_class, hashtext(user id)), the key of
-- extprod_open_order_free) and then inserts the card with INSERT … SELECT … WHERE CASE WHEN
-- EXISTS (an open card of the user) THEN extprod_refuse_open_order() ELSE true END: the insert
-- takes its snapshot after the lock was granted, so it sees every card committed by the previous
-- holder, and the function below runs only when the order is refused. It fails the transaction
-- with the SQLSTATE of extprod_open_order_guard, so that the statements queued after the insert
-- write nothing.
CREATE FUNCTION extprod_refuse_open_order()
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'user has an open card order' USING ERRCODE = 'EXO01';
END
$$;
