-- Comments made only of whitespace and invisible characters (zero-width spaces and
-- joiners, U+FEFF, soft hyphens, bidirectional controls, variation selectors, tags, Hangul
-- fillers, the blank Braille pattern: the list in domain::values) are refused from now on.
-- Those stored before are soft-deleted, so every stored live comment keeps to the rule and
-- reads back as a valid comment.
UPDATE comments
SET deleted_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)
WHERE deleted_at IS NULL
  AND content REGEXP '^[\\s\\p{Z}\\x{00AD}\\x{034F}\\x{061C}\\x{115F}\\x{1160}\\x{17B4}\\x{17B5}\\x{180B}-\\x{180F}\\x{200B}-\\x{200F}\\x{202A}-\\x{202E}\\x{2060}-\\x{206F}\\x{2800}\\x{3164}\\x{FE00}-\\x{FE0F}\\x{FEFF}\\x{FFA0}\\x{FFF0}-\\x{FFF8}\\x{1BCA0}-\\x{1BCA3}\\x{1D173}-\\x{1D17A}\\x{E0000}-\\x{E0FFF}]*$';
