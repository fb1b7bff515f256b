-- Fails if an author has since used one client id on two videos.
ALTER TABLE comments
    DROP KEY comments_author_video_client_key,
    ADD UNIQUE KEY comments_author_client_key (user_id, client_id);
