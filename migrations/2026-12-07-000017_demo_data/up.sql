-- One row once `realtime-server seed` has filled this database with demo data, so the web
-- client shows the demo logins and videos there and nowhere else (GET /api/demo).
CREATE TABLE demo_data (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  seeded_at DATETIME(6) NOT NULL,
  CONSTRAINT demo_data_one_row CHECK (id = 1)
);
