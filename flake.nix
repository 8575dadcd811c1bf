{
  description = "OpenovaFlow: flow server, Flux emitter and auth proxy as static musl binaries and OCI images";

  # The lock (flake.lock) pins these exact URLs; change both together.
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    crane.url = "github:ipetkov/crane?ref=v0.23.3";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, crane, flake-utils }:
    flake-utils.lib.eachSystem [ "x86_64-linux" "aarch64-linux" ] (system:
      let
        pkgs = nixpkgs.legacyPackages.${system};
        version = "0.1.0";

        # The repository without build outputs and VCS data. Non-Rust files
        # stay: crates embed assets (UI pages, the Helm driver) and tests read
        # charts/ and bootstrap-kit/.
        src = builtins.path {
          path = ./.;
          name = "openova-flow-source";
          filter = path: type:
            let base = baseNameOf path;
            in !(builtins.elem base [ "target" ".git" "result" ".direnv" ]);
        };

        # Native toolchain from nixpkgs: checks and the dev shell.
        craneLib = crane.mkLib pkgs;
        commonArgs = {
          inherit src version;
          pname = "openova-flow";
          strictDeps = true;
        };
        cargoArtifacts = craneLib.buildDepsOnly commonArgs;

        # The release binaries: static musl, from nixpkgs' static package set.
        services = import ./nix/services.nix;
        muslTarget = {
          x86_64-linux = "x86_64-unknown-linux-musl";
          aarch64-linux = "aarch64-unknown-linux-musl";
        }.${system};
        craneStatic = crane.mkLib pkgs.pkgsStatic;
        staticArgs = commonArgs // {
          CARGO_BUILD_TARGET = muslTarget;
          CARGO_BUILD_RUSTFLAGS = "-C target-feature=+crt-static";
        };
        # One dependency build shared by the three binaries.
        staticArtifacts = craneStatic.buildDepsOnly (staticArgs // {
          cargoExtraArgs = "--locked" + builtins.concatStringsSep "" (map (s: " -p ${s}") services);
        });
        binary = s: craneStatic.buildPackage (staticArgs // {
          pname = s;
          cargoArtifacts = staticArtifacts;
          cargoExtraArgs = "--locked -p ${s} --bin ${s}";
          doCheck = false;
        });

        binaries = builtins.listToAttrs (map (s: { name = s; value = binary s; }) services);
        images = builtins.listToAttrs (map
          (s: {
            name = "image-${s}";
            value = import (./nix/images + "/${s}.nix") {
              inherit pkgs self version;
              package = binaries.${s};
            };
          })
          services);
        allImages = pkgs.linkFarm "openova-flow-images" (map
          (s: { name = "${s}.tar.gz"; path = images."image-${s}"; })
          services);
      in
      {
        # Flat: a nested attribute set here is not a derivation and breaks `nix flake check`.
        packages = binaries // images // {
          images = allImages;
          default = allImages;
        };

        checks = {
          clippy = craneLib.cargoClippy (commonArgs // {
            inherit cargoArtifacts;
            cargoClippyExtraArgs = "--all-targets -- --deny warnings";
          });
          fmt = craneLib.cargoFmt { inherit src; };
          tests = craneLib.cargoNextest (commonArgs // { inherit cargoArtifacts; });
          doc = craneLib.cargoDoc (commonArgs // {
            inherit cargoArtifacts;
            RUSTDOCFLAGS = "-D warnings";
          });
        };

        devShells.default = craneLib.devShell {
          checks = self.checks.${system};
          packages = [
            pkgs.opentofu
            pkgs.kubernetes-helm
            pkgs.nixpkgs-fmt
            pkgs.cargo-nextest
            pkgs.python3
          ];
        };

        formatter = pkgs.nixpkgs-fmt;
      });
}
