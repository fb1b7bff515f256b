-- Security-relevant events. Ids are UUIDv7, so ordering by id is ordering by time. No
-- foreign keys: the log outlives the users, devices and comments it mentions.
CREATE TABLE audit_log (
    id          BINARY(16)  NOT NULL,
    action      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    actor_id    BINARY(16)  NULL,
    subject_id  BINARY(16)  NULL,
    detail      JSON        NOT NULL,
    ip          VARCHAR(45) NULL,
    inserted_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY audit_log_actor (actor_id, id),
    KEY audit_log_action (action, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
