use citius_app::App;

use crate::HttpConfig;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: std::sync::Arc<HttpConfig>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Request counts of chat-widget visitors and addresses, for their rate limits.
    pub widget_limits: std::sync::Arc<crate::widget::Limiter>,
}
