# Offline stand-in for numtide/flake-utils (see ../nixpkgs/flake.nix):
# eachSystem with the same output shape (`<attr>.<system>`).
{
  description = "stub flake-utils for the structural flake check";

  outputs = { self }:
    let
      eachSystem = systems: f:
        let
          perSystem = builtins.listToAttrs (map (s: { name = s; value = f s; }) systems);
          attrs = builtins.attrNames (f (builtins.head systems));
        in
        builtins.listToAttrs (map
          (a: {
            name = a;
            value = builtins.listToAttrs (map (s: { name = s; value = perSystem.${s}.${a}; }) systems);
          })
          attrs);
    in
    {
      lib = {
        inherit eachSystem;
        eachDefaultSystem = eachSystem [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      };
    };
}
