ALTER TABLE comments DROP KEY comments_author_client_key, DROP COLUMN client_id;
