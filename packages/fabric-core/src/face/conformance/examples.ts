import { FabricState } from "../../vocabulary/index.js";

/**
 * Named example states every face renders into its golden files. `mesh` is the one the
 * README and `examples/fabric-state.yaml` use: five nodes, three holding the control plane,
 * one quarantined, workloads with ports, environment, config blobs and placement constraints.
 */

function nodeId(seed: string): string {
  return seed.repeat(64 / seed.length);
}

const cp1 = nodeId("a1");
const cp2 = nodeId("b2");
const cp3 = nodeId("c3");
const worker1 = nodeId("d4");
const worker2 = nodeId("e5");

const capacity = { cpu_millis: 4000, memory_bytes: 8_589_934_592, storage_bytes: 107_374_182_400, pods: 110 };

function node(id: string, name: string, zone: string, roles: string[], octet: number) {
  return {
    id,
    name,
    addresses: {
      gossip: `10.0.0.${octet}:7946`,
      raft: `10.0.0.${octet}:7947`,
      content: `10.0.0.${octet}:7948`,
      api: `10.0.0.${octet}:7949`,
    },
    roles,
    capacity,
    zone,
    rack: `rack-${octet}`,
    labels: { disk: octet % 2 === 0 ? "ssd" : "hdd", "revoada.example/tier": "general" },
    version: "0.1.0",
    generation: octet,
  };
}

const mesh = FabricState.parse({
  nodes: {
    [cp1]: node(cp1, "cp-1", "zone-a", ["api-server", "etcd", "scheduler", "controller-manager"], 11),
    [cp2]: node(cp2, "cp-2", "zone-b", ["api-server", "etcd", "scheduler", "controller-manager"], 12),
    [cp3]: node(cp3, "cp-3", "zone-c", ["etcd", "worker"], 13),
    [worker1]: node(worker1, "worker-1", "zone-a", ["worker"], 14),
    [worker2]: node(worker2, "worker-2", "zone-b", ["quarantined"], 15),
  },
  workloads: {
    "default/web": {
      name: "web",
      namespace: "default",
      image: "registry.example/web:1.27",
      command: ["/usr/bin/web-server"],
      args: ["--listen=:8080", "--greeting=hello world", "--discount=100%", "--price=$5"],
      env: { GREETING: 'say "hi"', LOG_LEVEL: "info", PATH_HINT: "C:\\tmp;#not-a-comment" },
      ports: [
        { name: "http", container_port: 8080, protocol: "tcp" },
        { name: "metrics", container_port: 9090, protocol: "tcp" },
      ],
      replicas: 3,
      resources: { cpu_millis: 500, memory_bytes: 268_435_456 },
      config_blobs: [
        {
          name: "web-config",
          hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
          mount_path: "/etc/web/config.yaml",
        },
      ],
      placement: { zones: ["zone-a", "zone-b"], labels: { disk: "ssd" }, tolerate_control_plane: false },
    },
    "monitoring/node-exporter": {
      name: "node-exporter",
      namespace: "monitoring",
      image: "quay.example/prometheus/node-exporter:v1.8.2",
      command: [],
      args: ["--web.listen-address=:9100"],
      env: {},
      ports: [{ name: "metrics", container_port: 9100, protocol: "tcp" }],
      replicas: 2,
      resources: { cpu_millis: 100, memory_bytes: 67_108_864 },
      config_blobs: [],
      placement: { zones: [], labels: {}, tolerate_control_plane: true },
    },
    "dns/resolver": {
      name: "resolver",
      namespace: "dns",
      image: "registry.example/coredns:1.11.3",
      command: [],
      args: ["-conf", "/etc/coredns/Corefile"],
      env: { GOMAXPROCS: "2" },
      ports: [
        { name: "dns", container_port: 53, protocol: "udp" },
        { name: "dns-tcp", container_port: 53, protocol: "tcp" },
      ],
      replicas: 1,
      resources: { cpu_millis: 200, memory_bytes: 134_217_728 },
      config_blobs: [
        {
          name: "corefile",
          hash: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
          mount_path: "/etc/coredns/Corefile",
        },
      ],
      placement: { zones: ["zone-c"], labels: {}, tolerate_control_plane: true },
    },
    "batch/idle": {
      name: "idle",
      namespace: "batch",
      image: "registry.example/idle:latest",
      command: [],
      args: [],
      env: {},
      ports: [],
      replicas: 0,
      resources: { cpu_millis: 0, memory_bytes: 0 },
      config_blobs: [],
      placement: { zones: [], labels: {}, tolerate_control_plane: false },
    },
  },
  placements: {
    "default/web": [worker1, worker1, worker1],
    "monitoring/node-exporter": [cp1, cp2],
    "dns/resolver": [cp3],
    "batch/idle": [],
  },
  applied: { term: 7, index: 1042 },
});

const singleNode = FabricState.parse({
  nodes: {
    [cp1]: node(cp1, "solo", "", ["api-server", "etcd", "scheduler", "controller-manager", "worker"], 21),
  },
  workloads: {},
  placements: {},
  applied: { term: 1, index: 3 },
});

const empty = FabricState.parse({ nodes: {}, workloads: {}, placements: {}, applied: { term: 0, index: 0 } });

/** Named example states, in a fixed order. */
export const exampleFabricStates: Readonly<Record<string, FabricState>> = {
  empty,
  mesh,
  "single-node": singleNode,
};
