//! Tracing (pretty or JSON lines) and the process-wide Prometheus recorder.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_core::callsite::{DefaultCallsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::metadata::Kind;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global tracing subscriber; `level` is an `EnvFilter` directive that was
/// validated with the configuration.
/// Log lines go to stdout, coloured only when it is a terminal (and `NO_COLOR` is unset).
pub fn init_tracing(format: LogFormat, level: &str) {
    let ansi = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = subscriber(format, level, ansi, std::io::stdout).try_init();
}

/// The subscriber `init_tracing` installs, writing to `writer`.
fn subscriber<W>(
    format: LogFormat,
    level: &str,
    ansi: bool,
    writer: W,
) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(ClientFaults(lines(format, ansi, writer)))
}

/// The layer that writes log lines.
fn lines<S, W>(format: LogFormat, ansi: bool, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Pretty => layer.boxed(),
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    }
}

/// Latency buckets (seconds) for request histograms.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use (the recorder is global,
/// so servers started by tests in one process share it).
pub fn prometheus() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    if metrics::set_global_recorder(recorder).is_err() {
                        tracing::warn!(
                            "a metrics recorder was already installed; /metrics may be empty"
                        );
                    }
                    crate::metrics_help::describe();
                    handle
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics disabled");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// Where actix-http logs a connection it gave up on.
const DISPATCHER: &str = "actix_http::h1::dispatcher";

/// actix-http logs every connection it gave up on at ERROR, as "stream error: ...": a request
/// head that did not parse or was too large, a client that went away mid-request. Each is
/// the client's doing (actix-http's own faults get an ERROR line of their own before), so
/// they reach the log lines at DEBUG, as this callsite's events.
static CLIENT_FAULT: Metadata<'static> = Metadata::new(
    "client fault",
    DISPATCHER,
    Level::DEBUG,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    FieldSet::new(&["message"], Identifier(&CLIENT_FAULT_CALLSITE)),
    Kind::EVENT,
);
static CLIENT_FAULT_CALLSITE: DefaultCallsite = DefaultCallsite::new(&CLIENT_FAULT);

/// Passes every event on to the layer it wraps, actix-http's client faults at DEBUG.
struct ClientFaults<L>(L);

/// The message of an actix-http client fault, if `event` is one.
fn client_fault(event: &Event<'_>) -> Option<String> {
    struct Message(Option<String>);
    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = Some(format!("{value:?}"));
            }
        }
    }
    let meta = event.metadata();
    if *meta.level() != Level::ERROR || meta.target() != DISPATCHER {
        return None;
    }
    let mut message = Message(None);
    event.record(&mut message);
    message.0.filter(|m| m.starts_with("stream error"))
}

impl<S, L> Layer<S> for ClientFaults<L>
where
    S: Subscriber,
    L: Layer<S>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(message) = client_fault(event) else {
            return self.0.on_event(event, ctx);
        };
        if !ctx.enabled(&CLIENT_FAULT) {
            return;
        }
        let fields = CLIENT_FAULT.fields();
        let Some(field) = fields.field("message") else {
            return;
        };
        let text = format_args!("{message}");
        let values = [(&field, Some(&text as &dyn Value))];
        let values = fields.value_set(&values);
        self.0.on_event(&Event::new(&CLIENT_FAULT, &values), ctx);
    }

    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing_core::subscriber::Interest {
        self.0.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.0.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.0.max_level_hint()
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }

    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        self.0.on_record(span, values, ctx);
    }

    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.0.event_enabled(event, ctx)
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &tracing::span::Id, new: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_id_change(old, new, ctx);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Log lines written to memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut lines) = self.0.lock() {
                lines.extend_from_slice(buf);
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Self;

        fn make_writer(&'w self) -> Self {
            self.clone()
        }
    }

    /// What actix-http logs for a malformed request, for its own fault, then a line of ours.
    fn log_with(format: LogFormat, level: &str) -> String {
        let captured = Captured::default();
        tracing::subscriber::with_default(
            subscriber(format, level, false, captured.clone()),
            || {
                tracing::error!(
                    target: "actix_http::h1::dispatcher",
                    "stream error: request parse error: invalid Header provided"
                );
                tracing::error!(target: "actix_http::h1::dispatcher", "Upgrade handler error: boom");
                tracing::info!("ours");
            },
        );
        let bytes = captured.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn a_malformed_request_is_not_an_error_line() {
        let text = log_with(LogFormat::Pretty, "info");
        assert!(!text.contains("stream error"), "{text}");
        assert!(text.contains("Upgrade handler error"), "{text}");
        assert!(text.contains("ours"), "{text}");
    }

    #[test]
    fn a_malformed_request_is_a_debug_line_when_asked_for() {
        let text = log_with(LogFormat::Pretty, "info,actix_http=debug");
        let line = text
            .lines()
            .find(|l| l.contains("stream error: request parse error: invalid Header provided"))
            .unwrap_or_else(|| panic!("a line for the malformed request: {text}"));
        assert!(line.contains("DEBUG"), "{line}");
        assert!(line.contains("actix_http::h1::dispatcher"), "{line}");

        let json = log_with(LogFormat::Json, "debug");
        let line = json
            .lines()
            .find(|l| l.contains("stream error"))
            .unwrap_or_else(|| panic!("a JSON line for the malformed request: {json}"));
        assert!(line.contains(r#""level":"DEBUG""#), "{line}");
        assert!(
            line.contains(
                r#""message":"stream error: request parse error: invalid Header provided""#
            ),
            "{line}"
        );
        let upgrade = json
            .lines()
            .find(|l| l.contains("Upgrade handler error"))
            .unwrap_or_default();
        assert!(upgrade.contains(r#""level":"ERROR""#), "{json}");
    }
}
