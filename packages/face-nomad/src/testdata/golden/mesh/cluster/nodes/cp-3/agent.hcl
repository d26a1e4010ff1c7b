name = "cp-3"
datacenter = "zone-c"
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
  enabled = true
  meta = {
    "disk" = "hdd"
    "revoada.address.api" = "10.0.0.13:7949"
    "revoada.address.content" = "10.0.0.13:7948"
    "revoada.address.gossip" = "10.0.0.13:7946"
    "revoada.address.raft" = "10.0.0.13:7947"
    "revoada.control_plane" = "true"
    "revoada.label.revoada.example/tier" = "general"
    "revoada.node_id" = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
    "revoada.rack" = "rack-13"
    "revoada.roles" = "etcd,worker"
  }
}
