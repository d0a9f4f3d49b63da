//! `-vv` and `-vvv`: `tracing` events on stderr, written through the redaction point like every other byte dxctl
//! prints. `-v` is the Printer's own detail; `-vv` adds dxctl's events (each API call it sends, each describe
//! round); `-vvv` adds the AWS SDK's and its runtime's debug events (requests, retries, credentials). Never the SDK's
//! trace level: it prints HTTP bodies, and a describe's body holds every auth key of the region before dxctl has
//! seen (and registered) them.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// One event's text, scrubbed and written to stderr when the event is done.
pub struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            crate::redact::stderr(&String::from_utf8_lossy(&self.0));
        }
    }
}

struct Redacted;

impl<'a> MakeWriter<'a> for Redacted {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}

/// Installs the subscriber for `verbose` (the count of `-v`); below 2, none.
pub fn install(verbose: u8) {
    let directives = match verbose {
        0 | 1 => return,
        2 => "warn,dxctl=debug",
        _ => "warn,dxctl=trace,aws_config=debug,aws_smithy_runtime=debug,aws_smithy_runtime_api=debug,aws_sdk_directconnect=debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(directives))
        .with_writer(Redacted)
        .with_ansi(false)
        .with_target(true)
        .without_time()
        .try_init();
}
