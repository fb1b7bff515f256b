-- The Firebase mirror's transactional outbox: a comment change (or a login) and its row
-- here are written in one transaction, so the mirror never misses a committed change.
-- Workers on any node lease due rows (`lease`, `leased_until`), send them, and mark them
-- `sent` (pruned later) or, after too many attempts, `dead`. Of the pending rows about one
-- subject (a comment, a user) only the oldest is leased, so changes arrive in order.
CREATE TABLE mirror_outbox (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- the comment or user the change is about
    subject BINARY(16) NOT NULL,
    -- comment_saved | comment_deleted | signed_in
    kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    video_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    -- comment_saved: the comment as clients see it; signed_in: {"at": ...}
    payload JSON NULL,
    -- pending | sent | dead
    state VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pending',
    attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    due_at DATETIME(6) NOT NULL,
    lease BINARY(16) NULL,
    leased_until DATETIME(6) NULL,
    last_error VARCHAR(255) NULL,
    enqueued_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NULL,
    -- claiming: pending rows in order
    KEY mirror_outbox_state_id (state, id),
    -- "is an older change to this subject still pending?"
    KEY mirror_outbox_subject (subject, state, id),
    KEY mirror_outbox_lease (lease),
    -- pruning
    KEY mirror_outbox_finished (state, finished_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
