//! `cargo xtask images --docker`: FROM-scratch images of the static binaries
//! (`localhost/<name>:dev`, packaging.md §3) from generated contexts under
//! `target/images/<name>/`, and the `container-smoke` gate that builds them
//! and runs the testcontainers smoke test against them.

use std::process::Command;

use anyhow::{Context, Result, bail};
use openova_flow_packaging::image::{self, ImageMeta};

use crate::ci::Outcome;
use crate::dist::{self, Built};
use crate::docker::Engine;
use crate::util::{cargo, project_root, run};

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Build the images with a Docker engine (the only builder so far; Nix
    /// images come from `nix build .#images`).
    #[arg(long)]
    pub docker: bool,
    /// Build what exists and only report service crates that are not in the workspace yet.
    #[arg(long)]
    pub allow_missing: bool,
}

const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(project_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Labels from git: the commit, its time (never "now"), the crate version.
fn meta() -> ImageMeta {
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_none_or(|s| !s.is_empty());
    let revision = match git(&["rev-parse", "HEAD"]) {
        Some(rev) if dirty => format!("{rev}-dirty"),
        Some(rev) => rev,
        None => "dirty".to_owned(),
    };
    ImageMeta {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        revision,
        created: git(&["log", "-1", "--format=%cI"])
            .unwrap_or_else(|| "1970-01-01T00:00:01Z".to_owned()),
        source: "https://github.com/openova-io/openova-flow".to_owned(),
        licenses: "Apache-2.0".to_owned(),
    }
}

/// One image that was built, with its size as the engine reports it.
#[derive(Debug)]
pub struct BuiltImage {
    pub tag: String,
    pub binary_size: u64,
    pub image_size: u64,
}

/// Writes the context of one image and builds it.
fn build_one(engine: &Engine, b: &Built, meta: &ImageMeta) -> Result<BuiltImage> {
    let ctx = project_root().join("target/images").join(b.binary.name);
    if ctx.exists() {
        std::fs::remove_dir_all(&ctx)?;
    }
    std::fs::create_dir_all(&ctx)?;
    std::fs::write(ctx.join("Dockerfile"), image::dockerfile(&b.binary, meta))?;
    std::fs::write(ctx.join("passwd"), image::PASSWD)?;
    std::fs::write(ctx.join("group"), image::GROUP)?;
    std::fs::copy(HOST_CA_BUNDLE, ctx.join("ca-bundle.crt")).with_context(|| {
        format!("{HOST_CA_BUNDLE} is missing: apt-get install -y --no-install-recommends ca-certificates")
    })?;
    std::fs::copy(&b.path, ctx.join(b.binary.name))?;
    let tag = image::local_tag(&b.binary);
    run(engine
        .docker()
        .args(["build", "--quiet", "--tag", &tag])
        .arg(&ctx)
        .env("DOCKER_BUILDKIT", "0"))?;
    let out = engine
        .docker()
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Size}} {{.Config.User}}",
            &tag,
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let image_size: u64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .context("docker image inspect: no size")?;
    let user = parts.next().unwrap_or_default();
    if user != image::USER {
        bail!(
            "{tag}: configured user is {user:?}, expected {}",
            image::USER
        );
    }
    Ok(BuiltImage {
        tag,
        binary_size: b.size,
        image_size,
    })
}

fn report(images: &[BuiltImage]) {
    println!(
        "{:<40} {:>14} {:>14}",
        "image", "binary bytes", "image bytes"
    );
    for i in images {
        println!(
            "{:<40} {:>14} {:>14}  ({:.1} MiB)",
            i.tag,
            i.binary_size,
            i.image_size,
            i.image_size as f64 / 1048576.0
        );
    }
}

fn build_all(engine: &Engine, allow_missing: bool) -> Result<Vec<BuiltImage>> {
    let built = dist::build(allow_missing)?;
    let meta = meta();
    let images = built
        .iter()
        .map(|b| build_one(engine, b, &meta))
        .collect::<Result<Vec<_>>>()?;
    report(&images);
    Ok(images)
}

/// `cargo xtask images --docker`.
pub fn run_cmd(args: &ImagesArgs) -> Result<()> {
    if !args.docker {
        bail!(
            "say which builder: `cargo xtask images --docker` (Nix images: `nix build .#images`)"
        );
    }
    let engine = match Engine::ensure()? {
        Ok(e) => e,
        Err(why) => bail!("{why}"),
    };
    build_all(&engine, args.allow_missing).map(|_| ())
}

/// The `container-smoke` gate: skips (with the reason) when no engine can be
/// had; otherwise builds the images and runs the smoke test, which must find
/// every image that was built.
pub fn smoke_gate() -> Result<Outcome> {
    let engine = match Engine::ensure()? {
        Ok(e) => e,
        Err(why) => return Ok(Outcome::Skipped(why)),
    };
    let images = build_all(&engine, true)?;
    if images.is_empty() {
        return Ok(Outcome::Skipped(
            "no service crate exists yet, so there is no image to run".into(),
        ));
    }
    let required: Vec<&str> = images
        .iter()
        .filter_map(|i| {
            i.tag
                .strip_prefix("localhost/")
                .and_then(|t| t.strip_suffix(":dev"))
        })
        .collect();
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--locked",
        "-p",
        "openova-flow-packaging",
        "--test",
        "image_smoke",
        "--",
        "--nocapture",
    ])
    .env("OPENOVA_FLOW_SMOKE_REQUIRE", required.join(","));
    if let Some(h) = &engine.host {
        cmd.env("DOCKER_HOST", h);
    }
    run(&mut cmd)?;
    Ok(Outcome::Passed)
}

/// The `musl` gate.
pub fn musl_gate() -> Result<Outcome> {
    // Crates that do not exist yet are listed by `dist::build`; what exists must build static.
    dist::build(true)?;
    Ok(Outcome::Passed)
}
