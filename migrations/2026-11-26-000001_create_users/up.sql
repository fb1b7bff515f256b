-- Accounts. Emails and usernames are unique without regard to case (the collation is
-- case-insensitive); ids are UUIDv7 as big-endian BINARY(16); times are UTC.
CREATE TABLE users (
    id            BINARY(16)   NOT NULL,
    email         VARCHAR(254) NOT NULL,
    username      VARCHAR(32)  NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role          VARCHAR(16)  NOT NULL DEFAULT 'user',
    is_active     BOOLEAN      NOT NULL DEFAULT TRUE,
    last_login_at DATETIME(6)  NULL,
    inserted_at   DATETIME(6)  NOT NULL,
    updated_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_email_key (email),
    UNIQUE KEY users_username_key (username),
    CONSTRAINT users_role_check CHECK (role IN ('user', 'moderator', 'admin'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
