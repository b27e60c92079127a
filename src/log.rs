//! Diagnostics routed to the application: one process-wide logger, off by default.
//!
//! tchat never writes to stdout/stderr on its own; an app that wants to see reconnects and decode
//! errors installs a logger ([`set_logger`], or `tchat_set_log_callback` in C). Messages never contain
//! tokens.

use std::sync::{Arc, RwLock};

/// How important a log message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

/// A log sink: called with each message's level and text (never a token).
pub type Logger = Arc<dyn Fn(Level, &str) + Send + Sync>;

static LOGGER: RwLock<Option<(Logger, Level)>> = RwLock::new(None);

/// Installs `logger` for messages at `max_level` and more important; `None` turns logging off.
/// The logger is called on whichever thread logs (often a chat's reader thread).
pub fn set_logger(logger: Option<(Logger, Level)>) {
    *LOGGER.write().unwrap_or_else(|e| e.into_inner()) = logger;
}

/// Whether a message at `level` would be delivered (to skip formatting otherwise).
pub(crate) fn enabled(level: Level) -> bool {
    matches!(&*LOGGER.read().unwrap_or_else(|e| e.into_inner()), Some((_, max)) if level <= *max)
}

pub(crate) fn log(level: Level, message: &str) {
    let logger = match &*LOGGER.read().unwrap_or_else(|e| e.into_inner()) {
        Some((logger, max)) if level <= *max => logger.clone(),
        _ => return,
    };
    logger(level, message);
}

macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::log($level, &format!($($arg)*));
        }
    };
}
pub(crate) use log_at;
