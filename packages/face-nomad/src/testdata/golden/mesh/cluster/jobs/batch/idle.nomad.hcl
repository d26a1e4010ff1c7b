job "idle" {
  namespace = "batch"
  type = "service"
  datacenters = [
    "*",
  ]
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
  meta = {
    "revoada.placement" = ""
  }
  group "idle" {
    count = 0
    restart {
      attempts = 2
      interval = "30m"
      delay = "15s"
      mode = "fail"
    }
    task "idle" {
      driver = "docker"
      config {
        image = "registry.example/idle:latest"
      }
    }
  }
}
