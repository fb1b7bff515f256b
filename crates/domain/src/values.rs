//! Validated value types ("parse, don't validate"): each can only be built through
//! `parse`, which enforces the rules documented on the type.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Input that broke a rule: which field, and the rule in words a client can show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

macro_rules! string_value {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn char_count_between(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ValidationError::new(
            field,
            format!("must be {min} to {max} characters long"),
        ));
    }
    Ok(())
}

string_value!(
    /// An email address: trimmed, lowercased and in Unicode NFC, at most 254 characters,
    /// one `@` with 1..=64 characters before it and a domain containing a dot after it, no
    /// whitespace or control characters. Two addresses are the same when these forms are
    /// equal, character for character: `café@` typed composed or decomposed is one
    /// address, `cafe@` and `cafè@` are others.
    Email
);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        const FIELD: &str = "email";
        let value: String = raw.trim().to_lowercase().nfc().collect();
        char_count_between(FIELD, &value, 3, Self::MAX_LEN)?;
        let invalid = || ValidationError::new(FIELD, "must be an address like name@example.com");
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.chars().count() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(value))
    }
}

string_value!(
    /// A public user name: 3..=32 characters of ASCII letters, digits, `_`, `.` and `-`,
    /// starting with a letter or digit. Unique without regard to case.
    Username
);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        const FIELD: &str = "username";
        let value = raw.trim();
        char_count_between(FIELD, value, 3, 32)?;
        let first_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric());
        let rest_ok = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !first_ok || !rest_ok {
            return Err(ValidationError::new(
                FIELD,
                "may contain only letters, digits, '_', '.' and '-', and must start with a letter or digit",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

string_value!(
    /// The id of a video a comment room belongs to: 1..=64 ASCII letters, digits, `_` and
    /// `-` (it appears in the topic `video:<id>` and in URLs, so nothing else).
    VideoId
);

impl VideoId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        identifier("video_id", raw, 64, "_-", "'_' and '-'").map(Self)
    }
}

string_value!(
    /// A client-chosen device identifier: 1..=128 ASCII letters, digits and `_ . : -`.
    DeviceId
);

impl DeviceId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        identifier("device_id", raw, 128, "_.:-", "'_', '.', ':' and '-'").map(Self)
    }
}

string_value!(
    /// An id a client gives a comment it posts, so that a retry returns the original
    /// comment: 1..=64 ASCII letters, digits and `_ . : -`. Unique per author and video.
    ClientId
);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        identifier("client_id", raw, 64, "_.:-", "'_', '.', ':' and '-'").map(Self)
    }
}

/// 1..=`max` ASCII letters, digits and the `punctuation` characters (named in `listed`).
fn identifier(
    field: &'static str,
    raw: &str,
    max: usize,
    punctuation: &str,
    listed: &str,
) -> Result<String, ValidationError> {
    char_count_between(field, raw, 1, max)?;
    if !raw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || punctuation.contains(c))
    {
        return Err(ValidationError::new(
            field,
            format!("may contain only letters, digits, {listed}"),
        ));
    }
    Ok(raw.to_owned())
}

string_value!(
    /// The text of a comment: trimmed, 1..=2000 characters, no control characters other
    /// than newline and tab, and at least one visible character (whitespace and invisible
    /// characters such as U+200B or U+FEFF alone are blank).
    CommentBody
);

impl CommentBody {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        const FIELD: &str = "content";
        let value = raw.trim();
        if value.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
            return Err(ValidationError::new(FIELD, "must not be blank"));
        }
        char_count_between(FIELD, value, 1, Self::MAX_CHARS)?;
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ValidationError::new(
                FIELD,
                "must not contain control characters other than newline and tab",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

/// Characters that show nothing by themselves: Unicode's default-ignorable code points
/// (zero-width spaces and joiners, the byte order mark, soft hyphen, bidirectional
/// controls, variation selectors, tags, Hangul fillers, ...; DerivedCoreProperties 15.1)
/// and the blank Braille pattern, which renders as a space. They are allowed next to
/// visible text (emoji sequences are made with them), never instead of it. Migration
/// 000009 lists the same characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").map(Email::into_inner),
            Ok("ann@example.com".to_owned())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "an n@example.com",
            "ann@.example.com",
            "ann@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn email_is_compared_in_nfc_with_its_accents() {
        let composed = Email::parse("caf\u{e9}@example.com").map(Email::into_inner);
        assert_eq!(composed, Ok("caf\u{e9}@example.com".to_owned()));
        assert_eq!(
            Email::parse(" CAFE\u{301}@Example.com").map(Email::into_inner),
            composed,
            "decomposed and upper case: the same address"
        );
        for other in ["cafe@example.com", "caf\u{e8}@example.com"] {
            assert_ne!(Email::parse(other).map(Email::into_inner), composed);
        }
    }

    #[test]
    fn username_rules() {
        assert!(Username::parse("ann_1.x-y").is_ok());
        for bad in [
            "ab",
            "_ann",
            "ann!",
            "ann smith",
            &"a".repeat(33),
            "日本語名前",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(Username::parse("x").map_err(|e| e.field), Err("username"));
    }

    #[test]
    fn video_id_rules() {
        assert!(VideoId::parse("dQw4w9WgXcQ").is_ok());
        for bad in ["", "a:b", "a/b", "a b", &"v".repeat(65)] {
            assert!(VideoId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn device_id_rules() {
        assert!(DeviceId::parse("ios:7F3A-22.b_c").is_ok());
        for bad in ["", "a b", "a/b", &"d".repeat(129)] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn comment_body_rules() {
        assert_eq!(
            CommentBody::parse("  hello\n\tworld  ").map(CommentBody::into_inner),
            Ok("hello\n\tworld".to_owned())
        );
        assert!(CommentBody::parse(&"é".repeat(2000)).is_ok());
        for bad in ["", "   \n ", "bell\u{7}", "nul\u{0}"] {
            assert!(
                CommentBody::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        // Invisible characters alone are blank too.
        for blank in [
            "\u{200b}",
            "\u{feff}",
            " \u{200b}\u{200c}\u{200d}\u{2060} \u{feff}\n",
            "\u{ad}\u{34f}\u{61c}\u{180e}\u{202e}\u{2066}",
            "\u{3164}\u{ffa0}\u{115f}\u{2800}",
            "\u{fe0f}\u{e0020}\u{e0001}",
        ] {
            assert_eq!(
                CommentBody::parse(blank).map_err(|e| e.message),
                Err("must not be blank".to_owned()),
                "{blank:?}"
            );
        }
        // ... but they may go with visible text (emoji sequences use them).
        for fine in [
            "a\u{200b}b",
            "\u{2764}\u{fe0f}",
            "\u{1f468}\u{200d}\u{1f469}",
        ] {
            assert!(CommentBody::parse(fine).is_ok(), "{fine:?}");
        }
        assert!(CommentBody::parse(&"x".repeat(2001)).is_err());
    }

    #[test]
    fn deserializing_validates() {
        let ok: Result<VideoId, _> = serde_json::from_str("\"abc\"");
        assert!(ok.is_ok());
        let bad: Result<VideoId, _> = serde_json::from_str("\"a:b\"");
        assert!(bad.is_err());
    }
}
