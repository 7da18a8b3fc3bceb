//! Panics of the libraries the generator drives (typify and progenitor
//! answer some schemas with `todo!` or `panic!`) caught at the call, so that
//! one schema or operation is left out rather than the document lost.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

/// Serializes the swaps of the process's panic hook.
static HOOK: Mutex<()> = Mutex::new(());

/// Runs `work`, turning a panic into `Err` with its message's first line
/// (the message is kept off the terminal: it is reported where it belongs).
pub(crate) fn contained<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    let guard = HOOK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(work));
    std::panic::set_hook(previous);
    drop(guard);
    outcome.map_err(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        reason.lines().next().unwrap_or_default().to_owned()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_first_line() {
        let caught: Result<(), String> = super::contained(|| panic!("not yet implemented\nmore"));
        assert_eq!(caught, Err("not yet implemented".to_owned()));
        assert_eq!(super::contained(|| 7), Ok(7));
    }
}
