//! `sumi`: the Sumi desktop app. All logic is in the `sumi_desktop` library.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let options = sumi_desktop::cli::Cli::parse().options();
    let app = sumi_desktop::App::new(options).context(
        "could not open the window (is a display available? set DISPLAY or WAYLAND_DISPLAY)",
    )?;
    app.run()
        .context("the window system failed while the app was running")
}
