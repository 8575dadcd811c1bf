# The packaged service binaries: crate = binary = image name. Each has an
# image definition in ./images/<name>.nix.
[
  "openova-flow-server"
  "openova-flow-emitter"
  "openova-flow-proxy"
]
