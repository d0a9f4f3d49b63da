//! The JSON-lines request log: one line per API call with time, region, operation, status, error code and protocol,
//! never a body.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use super::SimError;

#[derive(Debug, Serialize)]
pub struct LogEntry {
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub status: u16,
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "virtualInterfaceId", skip_serializing_if = "Option::is_none")]
    pub virtual_interface_id: Option<String>,
    /// The fault injected into this request, if any (`drop` means the response was never sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The wire protocol: `awsJson1_1` or `rpcv2Cbor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
}

impl LogEntry {
    pub fn new(at: SystemTime) -> LogEntry {
        let time = time::OffsetDateTime::from(at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        LogEntry {
            time,
            region: None,
            operation: None,
            status: 0,
            error_code: None,
            virtual_interface_id: None,
            fault: None,
            protocol: None,
        }
    }
}

pub struct RequestLog {
    file: Mutex<File>,
}

impl RequestLog {
    pub fn create(path: &Path) -> Result<RequestLog, SimError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SimError::RequestLog {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(RequestLog {
            file: Mutex::new(file),
        })
    }

    pub fn write(&self, entry: &LogEntry) {
        // Cannot fail: an entry is a struct of strings, numbers and string-keyed maps.
        let mut line = serde_json::to_string(entry).unwrap_or_default();
        line.push('\n');
        if let Ok(mut f) = self.file.lock() {
            // A full disk must not take the simulator down; the log is best effort.
            let _ = f.write_all(line.as_bytes());
        }
    }
}
