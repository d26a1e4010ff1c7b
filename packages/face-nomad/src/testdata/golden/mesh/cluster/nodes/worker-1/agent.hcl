name = "worker-1"
datacenter = "zone-a"
data_dir = "/opt/nomad/data"
client {
  enabled = true
  meta = {
    "disk" = "ssd"
    "revoada.address.api" = "10.0.0.14:7949"
    "revoada.address.content" = "10.0.0.14:7948"
    "revoada.address.gossip" = "10.0.0.14:7946"
    "revoada.address.raft" = "10.0.0.14:7947"
    "revoada.label.revoada.example/tier" = "general"
    "revoada.node_id" = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
    "revoada.rack" = "rack-14"
    "revoada.roles" = "worker"
  }
  server_join {
    retry_join = [
      "10.0.0.11:4647",
      "10.0.0.12:4647",
      "10.0.0.13:4647",
    ]
  }
}
