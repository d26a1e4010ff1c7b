name = "cp-2"
datacenter = "zone-b"
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
    "disk" = "ssd"
    "revoada.address.api" = "10.0.0.12:7949"
    "revoada.address.content" = "10.0.0.12:7948"
    "revoada.address.gossip" = "10.0.0.12:7946"
    "revoada.address.raft" = "10.0.0.12:7947"
    "revoada.control_plane" = "true"
    "revoada.label.revoada.example/tier" = "general"
    "revoada.node_id" = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
    "revoada.rack" = "rack-12"
    "revoada.roles" = "api-server,etcd,scheduler,controller-manager"
  }
}
