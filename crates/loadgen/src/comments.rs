//! The comments scenario, for the Firebase mirror's figures: N clients post comments for a
//! fixed time, as fast as the server answers or at a fixed total rate; then, if asked,
//! waits until the server's mirror has sent them all and reads its sync lag from
//! `/metrics` (`firebase_sync_lag_seconds`, commit to Firebase's answer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Client;

use crate::procfs;
use crate::rest::{phase, post_comment, register};

/// What to run.
#[derive(Debug)]
pub struct Plan {
    pub label: String,
    pub clients: usize,
    pub duration: Duration,
    /// Posts per second in all (0: as fast as the server answers).
    pub rate: f64,
    /// Wait for the mirror to send every post, and report its lag.
    pub mirror_lag: bool,
    /// Processes whose CPU time per post to report, by name (the server, the database...).
    pub watch: Vec<(String, u32)>,
}

pub async fn run(base: &str, plan: Plan) -> Result<(), String> {
    let client = Client::builder()
        .pool_max_idle_per_host(plan.clients)
        .build()
        .map_err(|e| e.to_string())?;
    let api = format!("{base}/api");
    let run_id = std::process::id();
    eprintln!("loadgen: registering {} users", plan.clients);
    let tokens = Arc::new(register(&client, &api, plan.clients, run_id).await?);
    let sent_before = metric(&client, base, "firebase_changes_sent_total").await;
    // Each client's share of the rate, as a gap between its posts.
    let gap = (plan.rate > 0.0).then(|| Duration::from_secs_f64(plan.clients as f64 / plan.rate));
    let mut watched: Vec<(String, u32)> = plan.watch.clone();
    watched.push(("loadgen".into(), std::process::id()));
    let cpu_before: Vec<Option<Duration>> = watched
        .iter()
        .map(|(_, pid)| procfs::cpu_time(*pid))
        .collect();
    let (c, t, url) = (client.clone(), tokens.clone(), api.clone());
    let mut posts = phase(
        "POST comments",
        plan.clients,
        plan.duration,
        gap,
        move |worker, n| {
            let (c, t, url) = (c.clone(), t.clone(), url.clone());
            async move { post_comment(&c, &url, &t[worker], run_id, worker, n).await }
        },
    )
    .await;
    let posted = posts.samples.count() as f64;
    println!("| mode | posts | rate | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    posts.name_as(&plan.label);
    posts.report();
    if !plan.watch.is_empty() && posted > 0.0 {
        report_cpu(&plan.label, &watched, &cpu_before, posted);
    }
    if !plan.mirror_lag {
        return Ok(());
    }
    // Logins of the sign-ups above are not mirrored; comments are.
    let want = sent_before.unwrap_or(0.0) + posted;
    let waited = Instant::now();
    loop {
        let sent = metric(&client, base, "firebase_changes_sent_total")
            .await
            .unwrap_or(0.0);
        if sent >= want {
            break;
        }
        if waited.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "the mirror sent {sent} of {want} changes within 120 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = waited.elapsed();
    let q = |q: &str| {
        let client = client.clone();
        let base = base.to_owned();
        let name = format!("firebase_sync_lag_seconds{{quantile=\"{q}\"}}");
        async move { metric(&client, &base, &name).await.unwrap_or(f64::NAN) * 1000.0 }
    };
    let (p50, p99, max) = (q("0.5").await, q("0.99").await, q("1").await);
    println!();
    println!(
        "| mirror | changes sent | drained after the last post | lag p50 ms | lag p99 ms | lag max ms |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {posted:.0} | {:.2} s | {p50:.0} | {p99:.0} | {max:.0} |",
        plan.label,
        drained.as_secs_f64()
    );
    Ok(())
}

/// CPU time per post of each watched process since `before` (10 ms resolution, so a run
/// of seconds reads to a few percent).
fn report_cpu(label: &str, watched: &[(String, u32)], before: &[Option<Duration>], posted: f64) {
    let per_post: Vec<Option<f64>> = watched
        .iter()
        .zip(before)
        .map(|((_, pid), before)| {
            let spent = procfs::cpu_time(*pid)?.checked_sub((*before)?)?;
            Some(spent.as_secs_f64() * 1e6 / posted)
        })
        .collect();
    let names: Vec<&str> = watched.iter().map(|(name, _)| name.as_str()).collect();
    println!();
    println!("| CPU per post, µs | {} | in all |", names.join(" | "));
    println!("|---|{}---|", "---|".repeat(names.len()));
    let cells: Vec<String> = per_post
        .iter()
        .map(|v| v.map_or("?".into(), |v| format!("{v:.0}")))
        .collect();
    let total: f64 = per_post.iter().flatten().sum();
    println!("| {label} | {} | {total:.0} |", cells.join(" | "));
}

/// The value of the first `/metrics` line that starts with `name` (a full series, or a
/// metric without labels).
async fn metric(client: &Client, base: &str, name: &str) -> Option<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
