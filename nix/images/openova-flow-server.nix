# Image of the static openova-flow-server binary (see ../mk-image.nix).
{ pkgs, self, version, package }:
import ../mk-image.nix {
  inherit pkgs self version package;
  name = "openova-flow-server";
  port = 8080;
  description = "OpenovaFlow flow server (HTTP + SSE event router)";
}
