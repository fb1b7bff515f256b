-- Every change to a comment counts: 1 when posted, one more with every edit and with its
-- deletion. The row lock of the UPDATE orders two changes of one comment, so the greater
-- version is the later change, whichever broadcast reaches a client first: clients keep
-- the copy with the greater version (docs/realtime.md).
ALTER TABLE comments ADD COLUMN version INT UNSIGNED NOT NULL DEFAULT 1;
