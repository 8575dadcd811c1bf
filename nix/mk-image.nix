# A reproducible OCI image of one static binary: nothing but the binary at
# /bin/<name>, CA certificates, and a `nonroot` (65532) user. `created` is the
# commit time, never "now", so the tarball is bit-for-bit reproducible.
{ pkgs, self, version, name, package, port, description }:
let
  # self.lastModifiedDate is YYYYMMDDHHMMSS; dirty trees may lack it.
  date = self.lastModifiedDate or "19700101000001";
  part = start: len: builtins.substring start len date;
  created = "${part 0 4}-${part 4 2}-${part 6 2}T${part 8 2}:${part 10 2}:${part 12 2}Z";
  revision = self.rev or "dirty";
in
pkgs.dockerTools.buildLayeredImage {
  inherit name created;
  tag = self.shortRev or "dirty";
  contents = [ package pkgs.cacert ];
  extraCommands = ''
    mkdir -p etc tmp
    chmod 1777 tmp
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > etc/passwd
    printf 'root:x:0:\nnonroot:x:65532:\n' > etc/group
  '';
  config = {
    User = "65532:65532";
    Entrypoint = [ "/bin/${name}" ];
    ExposedPorts = { "${toString port}/tcp" = { }; };
    Env = [ "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt" ];
    Labels = {
      "org.opencontainers.image.title" = name;
      "org.opencontainers.image.description" = description;
      "org.opencontainers.image.source" = "https://github.com/openova-io/openova-flow";
      "org.opencontainers.image.revision" = revision;
      "org.opencontainers.image.version" = version;
      "org.opencontainers.image.created" = created;
      "org.opencontainers.image.licenses" = "Apache-2.0";
    };
  };
}
