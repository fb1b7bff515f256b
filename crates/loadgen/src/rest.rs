//! The REST scenario: N clients hammer one endpoint per phase for a fixed time.
//! Phase 1 logs in (argon2id verification dominates) while a prober measures `/healthz`
//! latency; phase 2 posts comments; phase 3 reads the newest page of comments.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::Client;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::stats::Samples;

pub(crate) struct Phase {
    name: String,
    pub(crate) samples: Samples,
    elapsed: Duration,
}

impl Phase {
    /// Reports under another name.
    pub(crate) fn name_as(&mut self, name: &str) {
        name.clone_into(&mut self.name);
    }

    pub(crate) fn report(&mut self) {
        let rate = self.samples.count() as f64 / self.elapsed.as_secs_f64();
        let (p50, p99, max) = self.samples.percentiles_ms();
        println!(
            "| {} | {} | {:.0}/s | {p50:.1} | {p99:.1} | {max:.1} | {} |",
            self.name,
            self.samples.count(),
            rate,
            self.samples.errors
        );
    }
}

pub(crate) async fn post(
    client: &Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<Value, String> {
    let mut req = client.post(url).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{url}: {status} {body}"))
    }
}

/// Runs `clients` copies of `request` until `duration` has passed: each sends its next
/// request as soon as the last is answered, or, with `gap`, every `gap` (open loop; the
/// clients start spread over one gap, and the wait is not counted in the latency).
pub(crate) async fn phase<F, Fut>(
    name: &str,
    clients: usize,
    duration: Duration,
    gap: Option<Duration>,
    request: F,
) -> Phase
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let workers = (0..clients).map(|worker| {
        let request = request.clone();
        tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut n = 0u64;
            while started.elapsed() < duration {
                if let Some(gap) = gap {
                    let offset = gap.mul_f64(worker as f64 / clients as f64);
                    tokio::time::sleep_until((started + offset + gap.mul_f64(n as f64)).into())
                        .await;
                }
                let t = Instant::now();
                if request(worker, n).await {
                    samples.record(t.elapsed());
                } else {
                    samples.errors += 1;
                }
                n += 1;
            }
            samples
        })
    });
    let mut samples = Samples::default();
    for s in join_all(workers).await.into_iter().flatten() {
        samples.merge(s);
    }
    Phase {
        name: name.to_owned(),
        samples,
        elapsed: started.elapsed(),
    }
}

/// Posts comment `n` of client `worker` on one of the run's 8 videos; true if stored.
pub(crate) async fn post_comment(
    client: &Client,
    api: &str,
    token: &str,
    run_id: u32,
    worker: usize,
    n: u64,
) -> bool {
    post(
        client,
        &format!("{api}/videos/bench-{run_id}-{}/comments", worker % 8),
        Some(token),
        &json!({ "content": format!("comment {n} from client {worker}") }),
    )
    .await
    .is_ok()
}

/// Signs up `clients` users named after `run_id`; returns their access tokens.
pub(crate) async fn register(
    client: &Client,
    api: &str,
    clients: usize,
    run_id: u32,
) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    for i in 0..clients {
        let session = post(
            client,
            &format!("{api}/auth/register"),
            None,
            &json!({
                "email": format!("bench{run_id}x{i}@example.com"),
                "username": format!("bench{run_id}x{i}"),
                "password": "bench-password",
                "device_id": format!("bench-{i}"),
            }),
        )
        .await?;
        let token = session["access_token"]
            .as_str()
            .ok_or("no access token")?
            .to_owned();
        tokens.push(token);
    }
    Ok(tokens)
}

pub async fn run(base: &str, duration: Duration, clients: usize) -> Result<(), String> {
    let client = Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .map_err(|e| e.to_string())?;
    let api = format!("{base}/api");
    let run_id = std::process::id();

    eprintln!("loadgen: registering {clients} users");
    let tokens = register(&client, &api, clients, run_id).await?;
    let tokens = Arc::new(tokens);

    println!("| phase | requests | rate | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");

    // Phase 1: logins, with /healthz probed every 10 ms alongside.
    let prober = probe_health(client.clone(), format!("{base}/healthz"), duration);
    logins(&client, &api, clients, duration, run_id)
        .await
        .report();
    let mut health = Phase {
        name: "GET /healthz during logins".to_owned(),
        samples: prober.await.map_err(|e| e.to_string())?,
        elapsed: duration,
    };
    health.report();

    // Phase 2: comment writes, one video per client.
    comment_writes(&client, &api, tokens, duration, run_id)
        .await
        .report();

    // Phase 3: reads of the newest 50 comments.
    comment_reads(&client, &api, clients, duration, run_id)
        .await
        .report();
    Ok(())
}

/// GETs `url` every 10 ms for `duration`, in a task of its own.
fn probe_health(client: Client, url: String, duration: Duration) -> JoinHandle<Samples> {
    tokio::spawn(async move {
        let mut samples = Samples::default();
        let started = Instant::now();
        while started.elapsed() < duration {
            let t = Instant::now();
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => samples.record(t.elapsed()),
                _ => samples.errors += 1,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        samples
    })
}

/// Each client logs its user in again and again.
async fn logins(
    client: &Client,
    api: &str,
    clients: usize,
    duration: Duration,
    run_id: u32,
) -> Phase {
    let (c, url) = (client.clone(), format!("{api}/auth/login"));
    phase(
        "POST /api/auth/login",
        clients,
        duration,
        None,
        move |worker, _| {
            let (c, url) = (c.clone(), url.clone());
            async move {
                post(
                    &c,
                    &url,
                    None,
                    &json!({
                        "email": format!("bench{run_id}x{worker}@example.com"),
                        "password": "bench-password",
                        "device_id": format!("bench-{worker}"),
                    }),
                )
                .await
                .is_ok()
            }
        },
    )
    .await
}

/// Each client posts comments with its user's token, one client per token.
async fn comment_writes(
    client: &Client,
    api: &str,
    tokens: Arc<Vec<String>>,
    duration: Duration,
    run_id: u32,
) -> Phase {
    let clients = tokens.len();
    let (c, t, url) = (client.clone(), tokens, api.to_owned());
    phase(
        "POST comments",
        clients,
        duration,
        None,
        move |worker, n| {
            let (c, t, url) = (c.clone(), t.clone(), url.clone());
            async move { post_comment(&c, &url, &t[worker], run_id, worker, n).await }
        },
    )
    .await
}

/// Each client reads the newest page of comments of one of the run's 8 videos.
async fn comment_reads(
    client: &Client,
    api: &str,
    clients: usize,
    duration: Duration,
    run_id: u32,
) -> Phase {
    let (c, url) = (client.clone(), api.to_owned());
    phase(
        "GET comments (50 per page)",
        clients,
        duration,
        None,
        move |worker, _| {
            let (c, url) = (c.clone(), url.clone());
            async move {
                c.get(format!(
                    "{url}/videos/bench-{run_id}-{}/comments?limit=50",
                    worker % 8
                ))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            }
        },
    )
    .await
}
