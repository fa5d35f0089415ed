//! When a running resync stops: asked before each page (and while waiting
//! for one) and before the deletion phase.

/// Why a running resync should stop now, if it should (Ocean aborts a resync
/// on shutdown and when a newer one is requested).
pub trait StopSignal: Sync {
    /// `Some(reason)` once the resync should stop (the reason goes into its report); polled every
    /// 50 ms while a page is awaited, so it must be cheap and must not block.
    fn stop_reason(&self) -> Option<&'static str>;
}

/// The process's shutdown flag.
impl StopSignal for std::sync::atomic::AtomicBool {
    fn stop_reason(&self) -> Option<&'static str> {
        self.load(std::sync::atomic::Ordering::SeqCst)
            .then_some("the integration is shutting down")
    }
}

/// How often a resync waiting for a page asks whether it should stop.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Resolves with the reason once `stop` says stop.
pub(super) async fn stop_requested(stop: &dyn StopSignal) -> &'static str {
    loop {
        if let Some(reason) = stop.stop_reason() {
            return reason;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
}
