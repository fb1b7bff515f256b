DROP TABLE mirror_outbox;
