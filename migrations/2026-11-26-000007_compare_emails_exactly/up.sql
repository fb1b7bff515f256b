-- Emails are compared exactly, as the application normalises them (trimmed, lower-cased,
-- NFC; see domain::Email). Under the table's accent-insensitive collation 'café@', 'cafe@'
-- and 'cafè@' were one address: a variant got 409 on sign-up, logged into the other's
-- account, and had a login allowance of its own. The values are already lower-cased, so
-- a binary collation keeps every existing row and its uniqueness.
ALTER TABLE users MODIFY email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
