//! What a build tells while it runs. Events go to a bounded channel that the caller owns and
//! are dropped and counted, never waited for, when it is full (see [`berth_events::progress`]);
//! the count comes back in [`crate::BuiltImage::dropped_events`].

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// Fetching the source: objects received so far.
    Fetch { received: usize, total: usize },
    /// The commit that was checked out.
    CheckedOut { sha: String, message: String },
    /// A Dockerfile step began ("Step 3/7 : RUN make").
    Step {
        number: u32,
        total: u32,
        text: String,
    },
    /// One line of output.
    Line {
        at: DateTime<Utc>,
        stream: OutputStream,
        text: String,
    },
}

/// The sending side of a build's events.
pub type EventSink = berth_events::Sink<BuildEvent>;

/// Stops one build (or one fetch) and nothing else.
pub use berth_events::CancelToken;

impl BuildEvent {
    /// One line of output, stamped now.
    pub fn line(stream: OutputStream, text: impl Into<String>) -> Self {
        Self::Line {
            at: Utc::now(),
            stream,
            text: text.into(),
        }
    }
}
