-- One row that every chain advance and every message send writes, so the two are ordered by a
-- write conflict the server sees at every isolation level (engine/chain/messages.py).
--
-- Both also lock chain_config (the advance FOR UPDATE, a send FOR SHARE), which orders them
-- under READ COMMITTED: the later statements of the waiter see what the holder committed. Under
-- REPEATABLE READ and SERIALIZABLE (YugabyteDB's Snapshot and Serializable) the waiter's
-- snapshot predates the holder, and a lock that was only held, not written, is granted without
-- a word: a send saw the old head and gave its message a landing epoch the chain had already
-- executed, and an advance missed a message committed while it waited (the message then landed
-- late). A row that both write makes the later one fail with 40001 instead, and its transaction
-- runs again on a fresh snapshot.
--
-- The advance's write is this trigger on its tipset insert (a statement trigger: one write per
-- advance, however many epochs it covers, before any tipset row goes in).

CREATE TABLE IF NOT EXISTS chain_turn (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    turns BIGINT NOT NULL DEFAULT 0        -- advances and sends so far; only the write matters
);
INSERT INTO chain_turn (id) VALUES (1) ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION chain_turn_taken() RETURNS TRIGGER AS $$
BEGIN
    UPDATE chain_turn SET turns = turns + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS chain_tipsets_turn ON chain_tipsets;
CREATE TRIGGER chain_tipsets_turn
    BEFORE INSERT ON chain_tipsets
    FOR EACH STATEMENT EXECUTE FUNCTION chain_turn_taken();
