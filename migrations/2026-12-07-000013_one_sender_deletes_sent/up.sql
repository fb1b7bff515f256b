-- The outbox's rows cost less to send, and one sender at a time sends them.
--
-- Before: every worker leased rows one by one (a conditional UPDATE per row), marked each
-- sent (moving it in three secondary indexes) and pruned it an hour later (a DELETE from
-- four). In MariaDB that was about 120 us of CPU per change, as much as the post itself
-- (docs/benchmarks.md, "The Firebase mirror"). Now:
-- * one worker in the whole deployment sends at a time: it holds the single row of
--   `mirror_sender` (a lease with an expiry, so a dead node's lease runs out) while it
--   sends one batch, the oldest pending rows in id order. Order per comment follows from
--   there being one sender, with no per-row lease and no "older change pending?" lookup;
-- * a sent row is deleted at once, by id;
-- * a failed batch stays at the head of the queue and the whole queue waits (the lease row
--   is released with a `leased_until` in the future), so a later change never overtakes it.
-- The outbox keeps only its primary key: every index is paid again by every post.
DELETE FROM mirror_outbox WHERE state = 'sent';
ALTER TABLE mirror_outbox
    DROP KEY mirror_outbox_state_id,
    DROP KEY mirror_outbox_subject,
    DROP KEY mirror_outbox_finished,
    DROP COLUMN due_at,
    DROP COLUMN lease,
    DROP COLUMN leased_until;

CREATE TABLE mirror_sender (
    -- always 1: there is one sender lease
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    -- who holds it, until when; NULL lease with a future `leased_until`: the queue waits
    -- after a failure
    lease BINARY(16) NULL,
    leased_until DATETIME(6) NULL
) ENGINE = InnoDB;
INSERT INTO mirror_sender (id) VALUES (1);

DROP PROCEDURE post_mirrored_comment;
CREATE PROCEDURE post_mirrored_comment(
    IN p_id BINARY(16),
    IN p_video_id VARCHAR(64) CHARACTER SET ascii,
    IN p_user_id BINARY(16),
    IN p_content TEXT CHARACTER SET utf8mb4,
    IN p_client_id VARCHAR(64) CHARACTER SET ascii,
    IN p_at DATETIME(6),
    IN p_payload LONGTEXT CHARACTER SET utf8mb4
)
MODIFIES SQL DATA
BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    INSERT INTO comments (id, video_id, user_id, content, client_id, inserted_at, updated_at)
    VALUES (p_id, p_video_id, p_user_id, p_content, p_client_id, p_at, p_at);
    INSERT INTO mirror_outbox (subject, kind, video_id, payload, enqueued_at)
    VALUES (p_id, 'comment_saved', p_video_id, p_payload, p_at);
    COMMIT;
END;
