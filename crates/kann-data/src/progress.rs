//! The progress bar `train` and `analyze` draw over batches and chunks.

use indicatif::{ProgressBar, ProgressStyle};

/// The bar's layout: prefix, bar, position, rate and ETA, then a message.
pub const TEMPLATE: &str = "{prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}";

/// A progress bar over `len` items with rate and ETA, labelled `prefix`. indicatif draws it only
/// on a terminal (it is hidden when stderr is not one, e.g. under `nohup` or in tests).
pub fn progress_bar(len: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_valid_and_the_bar_keeps_length_and_prefix() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
        let bar = progress_bar(7, "epoch 1/3");
        assert_eq!(bar.length(), Some(7));
        assert_eq!(bar.prefix(), "epoch 1/3");
        bar.inc(2);
        assert_eq!(bar.position(), 2);
    }
}
