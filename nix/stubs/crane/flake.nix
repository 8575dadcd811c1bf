# Offline stand-in for crane (see ../nixpkgs/flake.nix). Each builder returns
# a trivial derivation that carries the arguments the check inspects
# (cargoExtraArgs, doCheck, CARGO_BUILD_TARGET, static) as attributes.
{
  description = "stub crane for the structural flake check";

  outputs = { self }: {
    mkLib = pkgs:
      let
        drv = kind: args: derivation {
          name = "${args.pname or "openova-flow"}-${kind}";
          inherit (pkgs) system;
          builder = "/bin/sh";
          args = [ "-c" "mkdir -p $out/bin && touch $out/bin/${args.pname or "openova-flow"}" ];
          PATH = "/usr/bin:/bin";
          cargoExtraArgs = args.cargoExtraArgs or "";
          doCheck = if args.doCheck or true then "true" else "false";
          CARGO_BUILD_TARGET = args.CARGO_BUILD_TARGET or "";
          static = if pkgs.isStatic or false then "true" else "false";
          hasArtifacts = if args ? cargoArtifacts then "true" else "false";
        };
      in
      {
        buildDepsOnly = drv "deps";
        buildPackage = drv "bin";
        cargoClippy = drv "clippy";
        cargoFmt = drv "fmt";
        cargoNextest = drv "nextest";
        cargoDoc = drv "doc";
        cleanCargoSource = src: src;
        devShell = args: pkgs.mkShell args;
      };
  };
}
