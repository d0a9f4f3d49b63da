//! Why a config directory could not be loaded: the files could not be read, or what they say is invalid (located
//! [`Diagnostics`]).

use std::path::PathBuf;

use super::Diagnostics;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config directory {}", dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a regular file; config files must be", .0.display())]
    NotAFile(PathBuf),
    /// A `*.hcl` link whose target cannot be read: never taken as an absent file (its peers would be destroyed).
    #[error(
        "{} is a link to nothing readable ({cause}); fix or remove it: a config file that cannot be read is never \
         taken as absent",
        path.display()
    )]
    DanglingLink {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("no *.hcl files in {}", .0.display())]
    NoFiles(PathBuf),
    /// The files say something invalid; each diagnostic has its file, line and rule.
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
}

impl ConfigError {
    /// The located diagnostics, when the config was read but is invalid.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            ConfigError::Invalid(d) => Some(d),
            _ => None,
        }
    }
}
