-- Comments on videos, soft-deleted. comments_video_newest serves "newest live comments of a
-- video before id X" (keyset pagination): equality on video_id and deleted_at IS NULL, then
-- a range scan on id, which is time-ordered (UUIDv7).
CREATE TABLE comments (
    id          BINARY(16)  NOT NULL,
    video_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id     BINARY(16)  NOT NULL,
    content     TEXT        NOT NULL,
    inserted_at DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    deleted_at  DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY comments_video_newest (video_id, deleted_at, id),
    KEY comments_user (user_id),
    CONSTRAINT comments_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
