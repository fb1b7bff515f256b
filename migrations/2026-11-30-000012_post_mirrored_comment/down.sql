DROP PROCEDURE IF EXISTS post_mirrored_comment;
