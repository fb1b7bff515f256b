DROP TRIGGER comments_position;
ALTER TABLE comments DROP KEY comments_video_position;
ALTER TABLE comments DROP COLUMN position;
DROP TABLE room_positions;
