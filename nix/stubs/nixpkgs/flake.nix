# Offline stand-in for nixpkgs, used only by `cargo xtask nix-check` through
# `--override-input nixpkgs path:./nix/stubs/nixpkgs`. It provides exactly the
# attributes ../../../flake.nix uses; builders are /bin/sh scripts, and
# dockerTools.buildLayeredImage writes the image description as JSON so the
# check can assert the image configuration without building anything real.
{
  description = "stub nixpkgs for the structural flake check";

  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      mkPkgs = system:
        let
          drv = name: script: attrs: derivation ({
            inherit name system;
            builder = "/bin/sh";
            args = [ "-c" script ];
            PATH = "/usr/bin:/bin";
          } // attrs);
          dummy = name: drv name "mkdir -p $out/bin && printf '#!/bin/sh\\n' > $out/bin/${name}" { };
          pkgs = {
            inherit system;
            pkgsStatic = pkgs // { isStatic = true; };
            cacert = dummy "cacert";
            opentofu = dummy "opentofu";
            kubernetes-helm = dummy "helm";
            nixpkgs-fmt = dummy "nixpkgs-fmt";
            cargo-nextest = dummy "cargo-nextest";
            python3 = dummy "python3";
            mkShell = args: drv "stub-shell" "touch $out" {
              packageNames = map (p: p.name) (args.packages or [ ]);
            };
            linkFarm = name: entries: drv name
              ("mkdir -p $out" + builtins.concatStringsSep "" (map
                (e: " && ln -s ${e.path} $out/${e.name}")
                entries))
              { };
            dockerTools.buildLayeredImage = args: drv "${args.name}.tar.gz" "printf '%s' \"$json\" > $out" {
              json = builtins.toJSON {
                inherit (args) name tag created config;
                contents = map (c: c.name) (args.contents or [ ]);
                extraCommands = args.extraCommands or "";
              };
            };
          };
        in
        pkgs;
    in
    {
      legacyPackages = builtins.listToAttrs (map (s: { name = s; value = mkPkgs s; }) systems);
    };
}
