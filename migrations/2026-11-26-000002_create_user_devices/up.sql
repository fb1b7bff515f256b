-- The devices a user signed in from. device_id is chosen by the client and unique per user.
CREATE TABLE user_devices (
    id           BINARY(16)   NOT NULL,
    user_id      BINARY(16)   NOT NULL,
    device_id    VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    device_info  JSON         NOT NULL,
    is_active    BOOLEAN      NOT NULL DEFAULT TRUE,
    last_seen_at DATETIME(6)  NOT NULL,
    inserted_at  DATETIME(6)  NOT NULL,
    updated_at   DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY user_devices_user_device_key (user_id, device_id),
    CONSTRAINT user_devices_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
