DROP TRIGGER comments_mirror_outbox;
ALTER TABLE comments DROP COLUMN mirrored;
-- Rows written since carry no payload; the worker of before needs one, so they are sent as
-- the comment is now: a live comment with its payload, anything else as deleted.
UPDATE mirror_outbox o
JOIN comments c ON c.id = o.subject
JOIN users u ON u.id = c.user_id
SET o.payload = JSON_OBJECT(
    'id', LOWER(CONCAT_WS('-', HEX(SUBSTR(c.id, 1, 4)), HEX(SUBSTR(c.id, 5, 2)),
        HEX(SUBSTR(c.id, 7, 2)), HEX(SUBSTR(c.id, 9, 2)), HEX(SUBSTR(c.id, 11, 6)))),
    'video_id', c.video_id,
    'user_id', LOWER(CONCAT_WS('-', HEX(SUBSTR(c.user_id, 1, 4)), HEX(SUBSTR(c.user_id, 5, 2)),
        HEX(SUBSTR(c.user_id, 7, 2)), HEX(SUBSTR(c.user_id, 9, 2)), HEX(SUBSTR(c.user_id, 11, 6)))),
    'username', u.username,
    'content', c.content,
    'inserted_at', DATE_FORMAT(c.inserted_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
    'updated_at', DATE_FORMAT(c.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'))
WHERE o.kind = 'comment_saved' AND o.payload IS NULL AND c.deleted_at IS NULL;
UPDATE mirror_outbox SET kind = 'comment_deleted'
WHERE kind = 'comment_saved' AND payload IS NULL;
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
