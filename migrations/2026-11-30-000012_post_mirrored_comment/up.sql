-- A comment posted with the Firebase mirror on is stored with its mirror_outbox row in one
-- transaction. Sent as statements that is BEGIN, two INSERTs and COMMIT: four round trips
-- while the post holds a pooled connection, and posting ran at about half the rate of
-- mirror off (docs/benchmarks.md). As this one CALL it is a single round trip, as the plain
-- INSERT of mirror off is, and still all or nothing.
--
-- It opens a transaction of its own, so it must not be called inside one (START
-- TRANSACTION would commit the outer one first); the server calls it only on a connection
-- of its own. Parameters name their character sets: unnamed, they would take the
-- database's default, which may not hold every character a comment can.
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
