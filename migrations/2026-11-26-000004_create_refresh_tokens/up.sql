-- Refresh tokens, stored only as SHA-256 hashes of their secrets. The tokens of one device
-- form a chain: using a token sets replaced_by (and revoked_at) and issues its successor.
-- device_id is the user_devices ROW id. The two keys serve "revoke every live token of a
-- device" and "... of a user" (equality on the owner, then revoked_at IS NULL).
CREATE TABLE refresh_tokens (
    id          BINARY(16)  NOT NULL,
    user_id     BINARY(16)  NOT NULL,
    device_id   BINARY(16)  NOT NULL,
    token_hash  BINARY(32)  NOT NULL,
    replaced_by BINARY(16)  NULL,
    revoked_at  DATETIME(6) NULL,
    expires_at  DATETIME(6) NOT NULL,
    inserted_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY refresh_tokens_hash_key (token_hash),
    KEY refresh_tokens_device_live (device_id, revoked_at),
    KEY refresh_tokens_user_live (user_id, revoked_at),
    CONSTRAINT refresh_tokens_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT refresh_tokens_device_fk FOREIGN KEY (device_id) REFERENCES user_devices (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
