//! Access tokens from a file (`--tokens FILE`, one per line), as `realtime-server seed
//! viewers` writes them: thousands of distinct users without signing any up over REST.

use std::path::Path;

/// The tokens in `path`, one per line; blank lines are skipped. A token must be the URL-safe
/// characters a JWT is made of, as it goes into the socket URL's query string as it is.
pub(super) fn read(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the tokens in {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let token = line.trim();
        if token.is_empty() {
            continue;
        }
        let url_safe = token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !url_safe {
            return Err(format!(
                "line {} is not a token (letters, digits, `-`, `_` and `.` only)",
                n + 1
            ));
        }
        tokens.push(token.to_owned());
    }
    if tokens.is_empty() {
        return Err("no tokens in the file".to_owned());
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn one_token_a_line_blank_lines_skipped() {
        assert_eq!(
            parse("aa.bb-c_d\n\n  ee.ff  \n"),
            Ok(vec!["aa.bb-c_d".to_owned(), "ee.ff".to_owned()])
        );
    }

    #[test]
    fn empty_files_and_strange_lines_are_refused() {
        assert!(parse("\n \n").is_err_and(|e| e.contains("no tokens")));
        assert!(parse("ok\nnot ok\n").is_err_and(|e| e.contains("line 2")));
        assert!(parse("a&b=c").is_err());
    }
}
