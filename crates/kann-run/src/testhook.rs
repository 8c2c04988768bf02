//! Test-only stopping points for the crash-safety tests.
//!
//! The code that writes checkpoints, weights and locks calls [`point`] with a name at each step
//! where a kill could fall. When the environment variable `KANN_TEST_HOOK` is
//! `<name>[@<n>]:<action>`, the `n`-th time (default: the first) that point is reached the
//! process runs `action`: `abort` (dies at once, like `kill -9`: no destructors, no cleanup) or
//! `wait` (sleeps until it is killed). Unset, [`point`] does nothing but read the variable once.
//!
//! The hooks exist only in builds with the `test-hooks` feature, which only the test builds of
//! `train` and `analyze` turn on (through their dev-dependencies on this crate); in any `cargo
//! build` [`point`] is empty and `KANN_TEST_HOOK` is ignored, so no environment variable can stop
//! a built `train` or `analyze`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Environment variable that arms a hook.
pub const HOOK_ENV: &str = "KANN_TEST_HOOK";

struct Hook {
    name: String,
    nth: usize,
    wait: bool,
    seen: AtomicUsize,
}

fn hook() -> Option<&'static Hook> {
    static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
    HOOK.get_or_init(|| {
        let spec = std::env::var(HOOK_ENV).ok()?;
        let (point, action) = spec.rsplit_once(':')?;
        let (name, nth) = match point.split_once('@') {
            Some((n, k)) => (n, k.parse().ok()?),
            None => (point, 1),
        };
        Some(Hook {
            name: name.to_string(),
            nth,
            wait: action == "wait",
            seen: AtomicUsize::new(0),
        })
    })
    .as_ref()
}

/// A named point of a write sequence (see the module docs).
pub fn point(name: &str) {
    if !cfg!(feature = "test-hooks") {
        return;
    }
    let Some(h) = hook() else { return };
    if h.name != name || h.seen.fetch_add(1, Ordering::SeqCst) + 1 != h.nth {
        return;
    }
    eprintln!("{HOOK_ENV}: stopping at {name}");
    if h.wait {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    std::process::abort();
}
