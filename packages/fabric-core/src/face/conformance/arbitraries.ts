import fc from "fast-check";
import { FabricState, NodeRole } from "../../vocabulary/index.js";
import { nodeAddressKinds } from "../layout.js";

/**
 * fast-check arbitraries for the fabric state. Every generated value is passed through the
 * zod schema (`FabricState.parse`), so a generator that drifts from the schema fails loudly
 * instead of feeding faces states the vocabulary would reject.
 *
 * Values stay inside what every target format can carry without escaping tricks that are
 * outside the contract: names are DNS-1123 labels, label keys and values are Kubernetes-valid,
 * ports are 1..65535 and unique per workload, strings are printable ASCII (including the
 * characters each format must escape: `%`, `$`, `"`, `'`, `\`, `#`, `;`, spaces).
 *
 * Shape invariants the faces may rely on (they hold for real committed states too):
 * - node names are unique; a node's `roles` are unique and in `NodeRole` enum order;
 * - workloads are keyed `namespace/name`; `placements` has a key only for known workloads,
 *   one node per replica, each node a key of `nodes`.
 */

export interface FabricStateArbitraryOptions {
  /** Upper bound on nodes (at least one node is always generated). Default 6. */
  readonly nodesMax?: number;
  /** Upper bound on workloads. Default 6. */
  readonly workloadsMax?: number;
  /** Upper bound on replicas per workload. Default 4. */
  readonly replicasMax?: number;
}

const hexDigits = "0123456789abcdef";

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += hexDigits[byte >> 4]! + hexDigits[byte & 15]!;
  return text;
}

/** 64 lowercase hex characters: a NodeId or a BLAKE3 hash. */
export function arbitraryHex64(): fc.Arbitrary<string> {
  return fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hex);
}

/** A DNS-1123 label of at most `lengthMax` characters (default 20, kept short for readable output). */
export function arbitraryDnsLabel(lengthMax = 20): fc.Arbitrary<string> {
  const middle = Math.max(0, lengthMax - 2);
  return fc.stringMatching(new RegExp(`^[a-z]([-a-z0-9]{0,${middle}}[a-z0-9])?$`)).filter((label) => {
    return label.length <= lengthMax && !label.includes("--");
  });
}

/**
 * Sequences that mean something to some target at run time or in its syntax: Kubernetes'
 * `$(VAR)` and `$$`, shell and Nomad `${...}`, systemd `%` specifiers and `$VAR`, escapes,
 * quotes and comment starters. Mixed into generated strings so the properties meet them often,
 * not once in a thousand runs.
 */
const meaningfulSequences = [
  "$$",
  "$(",
  "$(HOME)",
  "$HOME",
  "${",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Nomad run-time variable, meant literally
  "${NOMAD_ALLOC_ID}",
  "%%",
  "%n",
  "\\",
  "\\n",
  '"',
  "'",
  "#",
  ";",
  " ",
];

/** Printable ASCII, including characters and sequences that need escaping in systemd, YAML, HCL, JSON and Kubernetes. */
export function arbitraryPrintable(lengthMax = 24): fc.Arbitrary<string> {
  const piece = fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom(...meaningfulSequences) },
  );
  return fc.array(piece, { maxLength: 8 }).map((pieces) => pieces.join("").slice(0, lengthMax));
}

/** A Kubernetes-valid label key (optional DNS prefix) and value. */
export function arbitraryLabels(): fc.Arbitrary<Record<string, string>> {
  const key = fc
    .tuple(fc.option(arbitraryDnsLabel(10), { nil: undefined }), arbitraryDnsLabel(16))
    .map(([prefix, name]) => (prefix === undefined ? name : `${prefix}.example/${name}`));
  const value = fc.oneof(
    fc.constant(""),
    fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,14}[A-Za-z0-9])?$/),
  );
  return fc.dictionary(key, value, { maxKeys: 3 });
}

const hostPort = fc
  .tuple(
    fc.oneof(
      arbitraryDnsLabel(12),
      fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.0.${a}.${b}`),
      fc.constant("[fd00::1]"),
    ),
    fc.integer({ min: 1, max: 65535 }),
  )
  .map(([host, port]) => `${host}:${port}`);

const rolesInEnumOrder = fc
  .subarray([...NodeRole.options], { maxLength: 4 })
  .map((roles) => [...roles].sort((a, b) => NodeRole.options.indexOf(a) - NodeRole.options.indexOf(b)));

function arbitraryNodeFields() {
  return fc.record({
    addresses: fc.record(
      Object.fromEntries(nodeAddressKinds.map((kind) => [kind, hostPort])) as Record<
        (typeof nodeAddressKinds)[number],
        typeof hostPort
      >,
      { requiredKeys: [] },
    ),
    roles: rolesInEnumOrder,
    capacity: fc.record({
      cpu_millis: fc.integer({ min: 0, max: 256_000 }),
      memory_bytes: fc.integer({ min: 0, max: 2 ** 40 }),
      storage_bytes: fc.integer({ min: 0, max: 2 ** 44 }),
      pods: fc.integer({ min: 0, max: 500 }),
    }),
    zone: fc.oneof(fc.constant(""), arbitraryDnsLabel(12)),
    rack: fc.oneof(fc.constant(""), arbitraryDnsLabel(12)),
    labels: arbitraryLabels(),
    version: fc.tuple(fc.nat(9), fc.nat(20), fc.nat(30)).map(([a, b, c]) => `${a}.${b}.${c}`),
    generation: fc.nat(1_000_000),
  });
}

const envName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,11}$/);

function arbitraryPorts() {
  return fc
    .uniqueArray(
      fc.record({
        name: arbitraryDnsLabel(15),
        container_port: fc.integer({ min: 1, max: 65535 }),
        protocol: fc.constantFrom("tcp", "udp"),
      }),
      { maxLength: 3, selector: (port) => port.name },
    )
    .filter(
      (ports) =>
        new Set(ports.map((port) => `${port.container_port}/${port.protocol}`)).size === ports.length,
    );
}

function arbitraryConfigBlobs() {
  return fc
    .uniqueArray(fc.record({ name: arbitraryDnsLabel(16), hash: arbitraryHex64() }), {
      maxLength: 2,
      selector: (blob) => blob.name,
    })
    .map((blobs) => blobs.map((blob) => ({ ...blob, mount_path: `/etc/config/${blob.name}` })));
}

function arbitraryWorkloadFields(replicasMax: number) {
  return fc.record({
    image: fc
      .tuple(arbitraryDnsLabel(10), arbitraryDnsLabel(10), fc.stringMatching(/^[a-z0-9][a-z0-9.]{0,8}$/))
      .map(([registry, repository, tag]) => `${registry}.example/${repository}:${tag}`),
    command: fc.array(arbitraryPrintable(16), { maxLength: 2 }),
    args: fc.array(arbitraryPrintable(16), { maxLength: 3 }),
    env: fc.dictionary(envName, arbitraryPrintable(24), { maxKeys: 3 }),
    ports: arbitraryPorts(),
    replicas: fc.integer({ min: 0, max: replicasMax }),
    resources: fc.record({
      cpu_millis: fc.integer({ min: 0, max: 64_000 }),
      memory_bytes: fc.integer({ min: 0, max: 2 ** 36 }),
    }),
    config_blobs: arbitraryConfigBlobs(),
    placement: fc.record({
      zones: fc.uniqueArray(arbitraryDnsLabel(12), { maxLength: 2 }),
      labels: arbitraryLabels(),
      tolerate_control_plane: fc.boolean(),
    }),
  });
}

/** A whole fabric state that `FabricState` accepts, with placements consistent with nodes. */
export function arbitraryFabricState(options: FabricStateArbitraryOptions = {}): fc.Arbitrary<FabricState> {
  const nodesMax = options.nodesMax ?? 6;
  const workloadsMax = options.workloadsMax ?? 6;
  const replicasMax = options.replicasMax ?? 4;
  const nodes = fc.uniqueArray(
    fc.record({ id: arbitraryHex64(), name: arbitraryDnsLabel(16), fields: arbitraryNodeFields() }),
    { minLength: 1, maxLength: nodesMax, selector: (node) => node.name },
  );
  const workloads = fc.uniqueArray(
    fc.record({
      namespace: arbitraryDnsLabel(12),
      name: arbitraryDnsLabel(16),
      fields: arbitraryWorkloadFields(replicasMax),
      picks: fc.array(fc.nat(), { minLength: replicasMax, maxLength: replicasMax }),
    }),
    { maxLength: workloadsMax, selector: (workload) => `${workload.namespace}/${workload.name}` },
  );
  const applied = fc.record({ term: fc.nat(2 ** 31), index: fc.nat(2 ** 31) });
  return fc
    .tuple(nodes, workloads, applied)
    .filter(([nodeList]) => new Set(nodeList.map((node) => node.id)).size === nodeList.length)
    .map(([nodeList, workloadList, position]) => {
      const raw = {
        nodes: Object.fromEntries(
          nodeList.map((node) => [node.id, { id: node.id, name: node.name, ...node.fields }]),
        ),
        workloads: Object.fromEntries(
          workloadList.map((workload) => [
            `${workload.namespace}/${workload.name}`,
            { namespace: workload.namespace, name: workload.name, ...workload.fields },
          ]),
        ),
        placements: Object.fromEntries(
          workloadList.map((workload) => {
            const replicas = workload.fields.replicas;
            const chosen = workload.picks
              .slice(0, replicas)
              .map((pick) => nodeList[pick % nodeList.length]!.id);
            return [`${workload.namespace}/${workload.name}`, chosen];
          }),
        ),
        applied: position,
      };
      return FabricState.parse(raw);
    });
}
