# Image of the static openova-flow-emitter binary (see ../mk-image.nix).
{ pkgs, self, version, package }:
import ../mk-image.nix {
  inherit pkgs self version package;
  name = "openova-flow-emitter";
  port = 8081;
  description = "OpenovaFlow Flux emitter";
}
