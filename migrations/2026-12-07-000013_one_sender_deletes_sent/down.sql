DROP PROCEDURE post_mirrored_comment;
DROP TABLE mirror_sender;
ALTER TABLE mirror_outbox
    ADD COLUMN due_at DATETIME(6) NULL AFTER attempts,
    ADD COLUMN lease BINARY(16) NULL AFTER due_at,
    ADD COLUMN leased_until DATETIME(6) NULL AFTER lease;
UPDATE mirror_outbox SET due_at = enqueued_at;
ALTER TABLE mirror_outbox
    MODIFY due_at DATETIME(6) NOT NULL,
    ADD KEY mirror_outbox_state_id (state, id),
    ADD KEY mirror_outbox_subject (subject, state, id),
    ADD KEY mirror_outbox_finished (state, finished_at);
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
    INSERT INTO mirror_outbox (subject, kind, video_id, payload, due_at, enqueued_at)
    VALUES (p_id, 'comment_saved', p_video_id, p_payload, p_at, p_at);
    COMMIT;
END;
