import {
  controlPlaneComponent,
  controlPlaneOptionsOf,
  defaultKubernetesRelease,
  type KubernetesRelease,
  type RenderContext,
} from "@revoada/fabric-core/face";
import type { ControlPlaneRole, FabricState, NodeState } from "@revoada/fabric-core/vocabulary";
import { keys, type UnitEntries } from "./fabric-keys.js";
import { nodeTargetName } from "./layout.js";
import { escapeSpecifiers } from "./unit-values.js";

/**
 * Control-plane components as units: the unit name per role, the start order, the program
 * and the `After=`/`Wants=` chain (kube-apiserver after etcd, the scheduler and the
 * controller-manager after kube-apiserver, when the node holds both; otherwise after the
 * network). Shared by face-systemd (`.service`) and face-baremetal (`.container`). The
 * command lines (every flag, the etcd membership) come from `controlPlaneComponent` in
 * `@revoada/fabric-core/face`, the same the Kubernetes static pods carry.
 */

/** Where the host binaries live for `.service` units. */
export const componentBinaryDirectory = "/usr/bin";

interface ComponentSpec {
  readonly unit: string;
  readonly type: "simple" | "notify";
  /** The component it runs after, when the node also holds that role. */
  readonly after?: ControlPlaneRole;
}

export const components: Readonly<Record<ControlPlaneRole, ComponentSpec>> = {
  etcd: {
    unit: "revoada-etcd.service",
    type: "notify",
  },
  "api-server": {
    unit: "revoada-kube-apiserver.service",
    type: "simple",
    after: "etcd",
  },
  scheduler: {
    unit: "revoada-kube-scheduler.service",
    type: "simple",
    after: "api-server",
  },
  "controller-manager": {
    unit: "revoada-kube-controller-manager.service",
    type: "simple",
    after: "api-server",
  },
};

/** A component's `ExecStart=` argv: the host binary, then the shared flags. */
export function componentArgv(
  state: FabricState,
  node: NodeState,
  role: ControlPlaneRole,
  context: RenderContext = {},
  release: KubernetesRelease = defaultKubernetesRelease,
): string[] {
  const [program, ...flags] = controlPlaneComponent(
    state,
    node,
    role,
    controlPlaneOptionsOf(context, release),
  ).command;
  return [`${componentBinaryDirectory}/${program}`, ...flags];
}

/** Start order: etcd first, then the API server, then what talks to it. */
export const componentOrder: readonly ControlPlaneRole[] = [
  "etcd",
  "api-server",
  "scheduler",
  "controller-manager",
];

const network = "network-online.target";

/**
 * A component unit's `[Unit]` entries. A user manager (`user: true`) has no
 * `network-online.target` (it cannot see system units), so a user unit that runs after
 * nothing of its own node names no ordering at all.
 */
export function componentUnitEntries(node: NodeState, role: ControlPlaneRole, user = false): UnitEntries {
  const spec = components[role];
  const dependency = spec.after !== undefined && node.roles.includes(spec.after) ? spec.after : undefined;
  const after = dependency === undefined ? (user ? undefined : network) : components[dependency].unit;
  const ordering: UnitEntries =
    after === undefined
      ? []
      : [
          ["Wants", after],
          ["After", after],
        ];
  return [
    ["Description", escapeSpecifiers(`revoada control plane: ${role}`)],
    ...ordering,
    ["PartOf", nodeTargetName],
    [keys.component, role],
  ];
}
