//! ONCE: one resync, then the process exits with its outcome. No server and
//! no queue: nothing else can ask for a resync meanwhile.

use crate::runtime::host::{Host, HostError};
use crate::runtime::resync::ResyncReport;
use crate::runtime::resync::progress::LogLines;

/// Runs the one resync, its progress logged line by line.
pub async fn run(host: &Host) -> Result<ResyncReport, HostError> {
    host.resync(&LogLines, false).await
}
