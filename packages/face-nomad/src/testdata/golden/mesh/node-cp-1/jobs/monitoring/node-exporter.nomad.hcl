job "node-exporter" {
  namespace = "monitoring"
  type = "service"
  datacenters = [
    "*",
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
    "revoada.placement" = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1,b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
  }
  group "node-exporter" {
    count = 2
    network {
      port "metrics" {
        to = 9100
      }
    }
    service {
      name = "node-exporter-metrics"
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
    task "node-exporter" {
      driver = "docker"
      config {
        image = "quay.example/prometheus/node-exporter:v1.8.2"
        args = [
          "--web.listen-address=:9100",
        ]
        ports = [
          "metrics",
        ]
      }
      resources {
        cpu = 100
        memory = 64
      }
    }
  }
}
