job "resolver" {
  namespace = "dns"
  type = "service"
  datacenters = [
    "zone-c",
  ]
  constraint {
    attribute = "${meta.revoada.quarantined}"
    operator = "!="
    value = "true"
  }
  affinity {
    attribute = "${meta.revoada.control_plane}"
    operator = "!="
    value = "true"
    weight = 50
  }
  meta = {
    "revoada.config_blob.corefile.hash" = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    "revoada.config_blob.corefile.mount_path" = "/etc/coredns/Corefile"
    "revoada.config_blobs" = "corefile"
    "revoada.placement" = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
    "revoada.udp_ports" = "dns"
  }
  group "resolver" {
    count = 1
    network {
      port "dns" {
        to = 53
      }
      port "dns-tcp" {
        to = 53
      }
    }
    service {
      name = "resolver-dns"
      port = "dns"
      provider = "nomad"
    }
    service {
      name = "resolver-dns-tcp"
      port = "dns-tcp"
      provider = "nomad"
      check {
        type = "tcp"
        interval = "10s"
        timeout = "2s"
      }
    }
    restart {
      attempts = 2
      interval = "30m"
      delay = "15s"
      mode = "fail"
    }
    task "resolver" {
      driver = "docker"
      config {
        image = "registry.example/coredns:1.11.3"
        args = [
          "-conf",
          "/etc/coredns/Corefile",
        ]
        ports = [
          "dns",
          "dns-tcp",
        ]
      }
      env = {
        "GOMAXPROCS" = "2"
      }
      resources {
        cpu = 200
        memory = 128
      }
    }
  }
}
