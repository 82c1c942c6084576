//! Stopping the background loops in order: [`Shutdown::begin`] tells every loop holding a
//! [`Stop`] to finish the work in hand (a message being answered, a send being recorded)
//! and return, so a restart finds nothing half done and no lease to wait out.

use tokio::sync::watch;

/// The sending side, kept by whoever owns the loops ([`crate::app::App`]).
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

/// The receiving side, one per loop.
#[derive(Clone)]
pub struct Stop {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown {
            tx: watch::channel(false).0,
        }
    }

    pub fn stop(&self) -> Stop {
        Stop {
            rx: self.tx.subscribe(),
        }
    }

    pub fn begin(&self) {
        self.tx.send_replace(true);
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Stop {
    /// A stop that never comes (for loops run by tools that end with the process).
    pub fn never() -> Stop {
        // The sender is dropped at once: `wait` then pends forever.
        let (_, rx) = watch::channel(false);
        Stop { rx }
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Returns once shutdown has begun.
    pub async fn wait(&mut self) {
        if self.rx.wait_for(|stop| *stop).await.is_err() {
            // The owner is gone without a shutdown: nobody will ask any more.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_stop_sees_the_shutdown() {
        let shutdown = Shutdown::new();
        let (mut a, mut b) = (shutdown.stop(), shutdown.stop());
        assert!(!a.is_set());
        shutdown.begin();
        a.wait().await;
        b.wait().await;
        assert!(a.is_set() && b.is_set());
        // A stop taken after the shutdown began sees it too.
        shutdown.stop().wait().await;
    }
}
