name = "cp-1"
datacenter = "zone-a"
data_dir = "/opt/nomad/data"
server {
  enabled = true
  bootstrap_expect = 3
  server_join {
    retry_join = [
      "10.0.0.11:4648",
      "10.0.0.12:4648",
      "10.0.0.13:4648",
    ]
  }
}
client {
  enabled = false
  meta = {
    "disk" = "hdd"
    "revoada.address.api" = "10.0.0.11:7949"
    "revoada.address.content" = "10.0.0.11:7948"
    "revoada.address.gossip" = "10.0.0.11:7946"
    "revoada.address.raft" = "10.0.0.11:7947"
    "revoada.control_plane" = "true"
    "revoada.label.revoada.example/tier" = "general"
    "revoada.node_id" = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
    "revoada.rack" = "rack-11"
    "revoada.roles" = "api-server,etcd,scheduler,controller-manager"
  }
}
