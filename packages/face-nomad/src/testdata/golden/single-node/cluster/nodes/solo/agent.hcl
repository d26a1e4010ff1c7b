name = "solo"
data_dir = "/opt/nomad/data"
server {
  enabled = true
  bootstrap_expect = 1
  server_join {
    retry_join = [
      "10.0.0.21:4648",
    ]
  }
}
client {
  enabled = true
  meta = {
    "disk" = "hdd"
    "revoada.address.api" = "10.0.0.21:7949"
    "revoada.address.content" = "10.0.0.21:7948"
    "revoada.address.gossip" = "10.0.0.21:7946"
    "revoada.address.raft" = "10.0.0.21:7947"
    "revoada.control_plane" = "true"
    "revoada.label.revoada.example/tier" = "general"
    "revoada.node_id" = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
    "revoada.rack" = "rack-21"
    "revoada.roles" = "api-server,etcd,scheduler,controller-manager,worker"
  }
}
