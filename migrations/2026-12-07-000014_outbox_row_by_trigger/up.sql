-- A comment posted with the Firebase mirror on gets its mirror_outbox row from a trigger,
-- inside the INSERT that stores the comment: one statement, autocommitted, instead of the
-- procedure's START TRANSACTION, two INSERTs and COMMIT. The trigger and the comment are
-- one statement, so they are stored together or not at all, as before. In MariaDB the
-- procedure cost about 60 us of CPU per post more than a plain INSERT, the trigger about
-- 15 (docs/benchmarks.md, "The Firebase mirror").
--
-- `mirrored` is how the INSERT says it is posted with the mirror on: with it off, no
-- outbox rows pile up.
--
-- The row carries no payload: the worker reads the comment (and its author's name) when
-- it sends it, the same for rows written by edits and deletes. It always sends what the
-- comment is now, so a change sent later is never older than one sent before, and a
-- comment deleted before its creation was sent is sent as deleted.
ALTER TABLE comments ADD COLUMN mirrored BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TRIGGER comments_mirror_outbox AFTER INSERT ON comments FOR EACH ROW
    IF NEW.mirrored THEN
        INSERT INTO mirror_outbox (subject, kind, video_id, enqueued_at)
        VALUES (NEW.id, 'comment_saved', NEW.video_id, NEW.inserted_at);
    END IF;

UPDATE mirror_outbox SET payload = NULL WHERE kind = 'comment_saved';

DROP PROCEDURE post_mirrored_comment;
