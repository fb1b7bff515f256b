ALTER TABLE comments DROP COLUMN version;
