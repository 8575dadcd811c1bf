//! Gates and commands of the live graph page (crates/openova-flow-ui) and
//! its browser tests. The logic lives in the crate's tests; these gates only
//! make sure the tools are there, so CI can never skip them silently.

use std::path::Path;

use anyhow::{Result, bail};

use crate::ci::Outcome;
use crate::util::{cargo, on_path, run as sh};

fn require_node() -> Result<()> {
    if !on_path("node") {
        bail!(
            "node is not on PATH: the page's JavaScript tests need Node >= 20 (`node --test`, no npm packages); \
             install it with apt-get install -y nodejs"
        );
    }
    Ok(())
}

fn require_browser() -> Result<()> {
    let chromium = on_path("chromium")
        || on_path("chromium-browser")
        || Path::new("/usr/lib/chromium/chromium").is_file();
    let driver = on_path("chromedriver") || Path::new("/usr/lib/chromium/chromedriver").is_file();
    if !chromium || !driver {
        bail!(
            "{} not found: the browser tests need Debian's headless Chromium; \
             install with apt-get install -y chromium chromium-driver",
            match (chromium, driver) {
                (false, false) => "chromium and chromedriver",
                (false, true) => "chromium",
                _ => "chromedriver",
            }
        );
    }
    Ok(())
}

/// `ui-js`: `node --test` over the page's pure modules, and the client fold
/// checked against the contract crate's fold on 400 generated sequences.
pub fn js_gate() -> Result<Outcome> {
    require_node()?;
    sh(cargo()
        .args(["test", "--locked", "-p", "openova-flow-ui", "--test", "js"])
        .env("OPENOVA_FLOW_REQUIRE_NODE", "1"))?;
    Ok(Outcome::Passed)
}

/// `ui-browser`: the page in headless Chromium against a real server and
/// through the real proxy (screenshots land in `<target>/ui-artefacts/`).
pub fn browser_gate() -> Result<Outcome> {
    require_browser()?;
    sh(cargo()
        .args([
            "test",
            "--locked",
            "-p",
            "openova-flow-ui",
            "--test",
            "browser",
            "--",
            "--nocapture",
        ])
        .env("OPENOVA_FLOW_REQUIRE_BROWSER", "1"))?;
    Ok(Outcome::Passed)
}

/// `cargo xtask ui-screenshot`: reruns the browser tests and rewrites the
/// README's docs/img/flow-multi-region.png.
pub fn screenshot() -> Result<()> {
    require_browser()?;
    sh(cargo()
        .args(["test", "-p", "openova-flow-ui", "--test", "browser"])
        .env("OPENOVA_FLOW_REQUIRE_BROWSER", "1")
        .env("OPENOVA_FLOW_UPDATE_SCREENSHOTS", "1"))?;
    println!("wrote docs/img/flow-multi-region.png");
    Ok(())
}
