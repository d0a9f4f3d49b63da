//! An error and its causes in one line, `outer: inner: …`, as the command edge prints them (`anyhow`'s `{:#}`), for
//! messages written elsewhere: the simulator's HTTP answers and the apply summary.

use std::error::Error;
use std::fmt;

/// Displays `0` followed by each of its sources, `: `-separated.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

/// [`Chain`] as a string.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    Chain(error).to_string()
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::SocketAddr;

    use super::chain;
    use crate::sim::{SaveError, SimError};

    #[test]
    fn chain_joins_causes_as_anyhow_does() {
        let error = SimError::Listen {
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            source: io::Error::new(io::ErrorKind::AddrInUse, "address in use"),
        };
        assert_eq!(
            chain(&error),
            format!("{:#}", anyhow::Error::from(error)).as_str()
        );
        let flat = SimError::Save(SaveError::Stopped);
        assert_eq!(chain(&flat), "the world is no longer being saved");
    }
}
