//! Live progress of a long piece of work (an export, an outcome file, an allocation, a
//! conversion refresh), for a progress bar: what it is doing now, how much of it is
//! done, and of how much when that is known. The work updates it as it goes; whoever
//! shows it reads a snapshot. Cheap enough to update per row (relaxed atomics).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    stage: Mutex<&'static str>,
    done: AtomicU64,
    /// 0 while the total is not known.
    total: AtomicU64,
}

/// What a progress bar shows at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub stage: &'static str,
    pub done: u64,
    pub total: Option<u64>,
}

impl Progress {
    /// Starts a stage: its count starts again from zero, of `total` when known.
    pub fn stage(&self, stage: &'static str, total: Option<u64>) {
        if let Ok(mut s) = self.0.stage.lock() {
            *s = stage;
        }
        self.0.done.store(0, Ordering::Relaxed);
        self.0.total.store(total.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.0.done.fetch_add(n, Ordering::Relaxed);
    }

    pub fn set_done(&self, n: u64) {
        self.0.done.store(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let stage = self.0.stage.lock().map(|s| *s).unwrap_or("");
        let total = self.0.total.load(Ordering::Relaxed);
        Snapshot { stage, done: self.0.done.load(Ordering::Relaxed), total: (total > 0).then_some(total) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_restarts_the_count() {
        let p = Progress::default();
        p.stage("reading", None);
        p.add(5);
        p.add(2);
        assert_eq!(p.snapshot(), Snapshot { stage: "reading", done: 7, total: None });
        let shown = p.clone();
        p.stage("writing", Some(10));
        p.set_done(4);
        assert_eq!(shown.snapshot(), Snapshot { stage: "writing", done: 4, total: Some(10) });
    }
}
