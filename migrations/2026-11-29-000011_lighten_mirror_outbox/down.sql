ALTER TABLE mirror_outbox
    MODIFY payload JSON NULL,
    ADD KEY mirror_outbox_lease (lease);
