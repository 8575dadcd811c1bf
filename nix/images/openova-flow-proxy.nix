# Image of the static openova-flow-proxy binary (see ../mk-image.nix).
{ pkgs, self, version, package }:
import ../mk-image.nix {
  inherit pkgs self version package;
  name = "openova-flow-proxy";
  port = 8080;
  description = "OpenovaFlow authenticating proxy";
}
