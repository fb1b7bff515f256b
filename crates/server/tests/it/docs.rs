//! The examples in README.md and docs/api.md, run against the real server so they cannot
//! rot: every `curl` command (as the equivalent request), every JSON example (against
//! the real answer's shape) and every `realtime-server` command line. docs/realtime.md's
//! JavaScript runs in e2e/phoenix-js/tests/docs.test.mjs; `cargo xtask` lines are parsed
//! by xtask's own tests.

use std::path::Path;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, PASSWORD, keys};

fn read(relative: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The lines of every fenced block of `language`, continuation lines (`\`) joined.
fn blocks(markdown: &str, language: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim_start();
        match &mut current {
            None if fence == format!("```{language}") => current = Some(String::new()),
            Some(block) if fence == "```" => {
                found.push(block.replace("\\\n", " "));
                current = None;
            }
            Some(block) => {
                block.push_str(fence);
                block.push('\n');
            }
            None => {}
        }
    }
    found
}

/// Splits a command line as a shell would (single and double quotes, no expansions).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// A `curl` command line as (method, path, headers, body).
fn curl_request(line: &str) -> (Method, String, Vec<(String, String)>, String) {
    let mut args = words(line).into_iter().skip(1);
    let (mut method, mut path, mut headers, mut body) = (None, None, Vec::new(), String::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-s" | "-i" | "-v" => {}
            "-X" => method = args.next().map(|m| m.parse::<Method>().expect("a method")),
            "-H" => {
                let header = args.next().expect("a header after -H");
                let (name, value) = header.split_once(':').expect("name: value");
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "-d" | "--data" => body = args.next().expect("data after -d"),
            url => {
                let rest = url.trim_start_matches("http://");
                let slash = rest.find('/').expect("a path in the URL");
                path = Some(rest[slash..].to_owned());
            }
        }
    }
    let method = method.unwrap_or(if body.is_empty() {
        Method::GET
    } else {
        Method::POST
    });
    (method, path.expect("a URL"), headers, body)
}

/// A server whose database holds the demo data the docs use.
async fn seeded() -> Api {
    let api = Api::start().await;
    server::seed::run(api.db.database(), |_| {})
        .await
        .expect("the demo data is stored");
    api
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_curl_example_works() {
    let api = seeded().await;
    let mut ran = 0;
    for doc in ["README.md", "docs/api.md", "docs/realtime.md"] {
        for block in blocks(&read(doc), "sh") {
            for line in block.lines().filter(|l| l.starts_with("curl ")) {
                let (method, path, headers, body) = curl_request(line);
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let reply = api.raw(method, &path, &headers, body).await;
                assert!(reply.status.is_success(), "{doc}: {line}\n{reply:#?}");
                ran += 1;
            }
        }
    }
    assert!(ran >= 1, "README.md's sign-in example was found");
}

/// docs/api.md's JSON with its placeholders (`{...}`, `[...]`) emptied.
fn json_examples() -> Vec<Value> {
    blocks(&read("docs/api.md"), "json")
        .iter()
        .map(|block| {
            let text = block.replace("{...}", "{}").replace("[...]", "[]");
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("docs/api.md's example is JSON ({e}): {block}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_example_has_the_shape_of_the_real_answer() {
    let api = seeded().await;
    let examples = json_examples();
    assert!(examples.len() >= 3, "{examples:#?}");
    for example in examples {
        if example.get("error").is_some() {
            // The envelope example is exactly what this sign-up answers.
            let reply = api
                .post(
                    "/api/auth/register",
                    None,
                    json!({ "email": "doc@example.com", "username": "ab", "password": PASSWORD }),
                )
                .await;
            assert_eq!(reply.body, example, "{reply:#?}");
        } else if example.get("access_token").is_some() {
            let reply = api
                .login("carol@example.com", "demo-password", "docs")
                .await;
            let session = reply.assert_status(200);
            assert_eq!(keys(session), keys(&example), "{session:#}");
            assert_eq!(session["expires_in"], example["expires_in"]);
        } else if example.get("next_cursor").is_some() {
            let reply = api
                .get("/api/videos/demo-video-1/comments?limit=1", None)
                .await;
            let page = reply.assert_status(200);
            assert_eq!(keys(page), keys(&example), "{page:#}");
            assert!(page["next_cursor"].is_string(), "{page:#}");
        } else if example.get("seeded").is_some() {
            let reply = api.get("/api/demo", None).await;
            let demo = reply.assert_status(200);
            assert_eq!(keys(demo), keys(&example), "{demo:#}");
            assert_eq!(demo["password"], example["password"]);
            assert_eq!(demo["videos"], example["videos"]);
        } else {
            panic!("an example this test does not check yet: {example}");
        }
    }
}

/// README's `target/release/realtime-server ...` lines, run with the binary under test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_command_line_runs() {
    let api = Api::start().await;
    let database = api.db.url().expose().to_owned();
    let lines: Vec<Vec<String>> = blocks(&read("README.md"), "sh")
        .iter()
        .flat_map(|block| block.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| line.starts_with("target/release/realtime-server"))
        .map(|line| {
            let command = line.split('#').next().unwrap_or_default();
            words(command).into_iter().skip(1).collect()
        })
        .collect();
    assert!(lines.len() >= 4, "{lines:?}");
    tokio::task::spawn_blocking(move || {
        for args in lines {
            let mut command = Command::new(env!("CARGO_BIN_EXE_realtime-server"));
            command
                .args(&args)
                .env_clear()
                .env("RTS_DATABASE_URL", &database)
                .env("RTS_HTTP_ADDR", "127.0.0.1:0")
                .env("RTS_JWT_SECRET", crate::TEST_JWT_SECRET)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if args.first().is_some_and(|a| a == "serve") {
                serves(command, &args);
            } else {
                let output = command.output().expect("the binary runs");
                assert!(
                    output.status.success(),
                    "realtime-server {args:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    })
    .await
    .expect("the commands ran");
}

/// Starts `serve`, waits for its "listening" line, then stops it.
fn serves(mut command: Command, args: &[String]) {
    use std::io::{BufRead, BufReader};
    let mut child = command.spawn().expect("the server starts");
    let stdout = child.stdout.take().expect("stdout");
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take(50)
        .any(|line| line.contains("listening"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "realtime-server {args:?} listens");
}

#[test]
fn the_helpers_read_markdown_as_written() {
    let markdown =
        "text\n```sh\ncurl -s localhost:4000/x -H 'a: b' \\\n  -d '{\"k\": \"v w\"}'\n```\n";
    let found = blocks(markdown, "sh");
    assert_eq!(found.len(), 1);
    let (method, path, headers, body) = curl_request(found[0].trim());
    assert_eq!(method, Method::POST);
    assert_eq!(path, "/x");
    assert_eq!(headers, [("a".to_owned(), "b".to_owned())]);
    assert_eq!(body, r#"{"k": "v w"}"#);
}
