name = "worker-2"
datacenter = "zone-b"
data_dir = "/opt/nomad/data"
client {
  enabled = true
  meta = {
    "disk" = "hdd"
    "revoada.address.api" = "10.0.0.15:7949"
    "revoada.address.content" = "10.0.0.15:7948"
    "revoada.address.gossip" = "10.0.0.15:7946"
    "revoada.address.raft" = "10.0.0.15:7947"
    "revoada.label.revoada.example/tier" = "general"
    "revoada.node_id" = "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5"
    "revoada.quarantined" = "true"
    "revoada.rack" = "rack-15"
    "revoada.roles" = "quarantined"
  }
  server_join {
    retry_join = [
      "10.0.0.11:4647",
      "10.0.0.12:4647",
      "10.0.0.13:4647",
    ]
  }
}
