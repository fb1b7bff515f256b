-- An id the client chose for a comment, so a retried post returns the original comment
-- instead of a duplicate. Unique per author; NULL (no id given) never clashes.
ALTER TABLE comments
    ADD COLUMN client_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER content,
    ADD UNIQUE KEY comments_author_client_key (user_id, client_id);
