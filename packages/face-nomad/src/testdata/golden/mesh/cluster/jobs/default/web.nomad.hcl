job "web" {
  namespace = "default"
  type = "service"
  datacenters = [
    "zone-a",
    "zone-b",
  ]
  constraint {
    attribute = "${meta.disk}"
    operator = "="
    value = "ssd"
  }
  constraint {
    attribute = "${meta.revoada.control_plane}"
    operator = "!="
    value = "true"
  }
  constraint {
    attribute = "${meta.revoada.quarantined}"
    operator = "!="
    value = "true"
  }
  spread {
    attribute = "${node.datacenter}"
    weight = 50
  }
  meta = {
    "revoada.config_blob.web-config.hash" = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    "revoada.config_blob.web-config.mount_path" = "/etc/web/config.yaml"
    "revoada.config_blobs" = "web-config"
    "revoada.placement" = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4,d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4,d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
  }
  group "web" {
    count = 3
    network {
      port "http" {
        to = 8080
      }
      port "metrics" {
        to = 9090
      }
    }
    service {
      name = "web-http"
      port = "http"
      provider = "nomad"
      check {
        type = "tcp"
        interval = "10s"
        timeout = "2s"
      }
    }
    service {
      name = "web-metrics"
      port = "metrics"
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
    task "web" {
      driver = "docker"
      config {
        image = "registry.example/web:1.27"
        entrypoint = [
          "/usr/bin/web-server",
        ]
        args = [
          "--listen=:8080",
          "--greeting=hello world",
          "--discount=100%",
          "--price=$5",
        ]
        ports = [
          "http",
          "metrics",
        ]
      }
      env = {
        "GREETING" = "say \"hi\""
        "LOG_LEVEL" = "info"
        "PATH_HINT" = "C:\\tmp;#not-a-comment"
      }
      resources {
        cpu = 500
        memory = 256
      }
    }
  }
}
