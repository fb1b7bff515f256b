-- A client id is unique per author and video, not per author: reusing one on another video
-- is a new post (it used to answer with the first video's comment). The new key also
-- serves the retry lookup (author, video, client id). Every existing row already satisfies
-- it, since the old key was stricter. One statement, so the table is never without a key.
ALTER TABLE comments
    DROP KEY comments_author_client_key,
    ADD UNIQUE KEY comments_author_video_client_key (user_id, video_id, client_id);
