-- Every comment change writes a mirror_outbox row, so each index and check on it is paid on
-- the path users wait on. The lease index goes: a worker finds its leased rows by id and
-- lease together, which the primary key does. The payload is JSON the server serialized
-- itself, so MariaDB's json_valid check (a parse of every payload) goes too.
ALTER TABLE mirror_outbox
    DROP KEY mirror_outbox_lease,
    MODIFY payload LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
