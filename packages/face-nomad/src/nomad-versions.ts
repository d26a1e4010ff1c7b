import { type FabricState, failed, ok, type Result } from "@revoada/fabric-core/vocabulary";

/**
 * The Nomad versions face-nomad writes for, as the job fields each accepts. The face writes
 * services with Nomad's own service discovery (`provider = "nomad"`, Nomad 1.3), so 1.3 is the
 * oldest; each row lists what a newer version adds that the jobs use:
 *
 * | from | job fields                                                                          |
 * |------|-------------------------------------------------------------------------------------|
 * | 1.3  | `service { provider = "nomad" }` without `check` blocks; `datacenters` listed       |
 * | 1.4  | `check` blocks in Nomad-provider services (native service health checks)           |
 * | 1.5  | `datacenters = ["*"]` for a workload without zones (wildcards; before 1.5 a job has to name its datacenters) |
 *
 * Before 1.5, a workload without zones lists every datacenter the state's nodes are in (their
 * zone, `dc1` for a node without one: the datacenter a Nomad agent joins when none is set) and
 * job meta `revoada.any_datacenter = "true"` says it means "any". 1.5 to 1.10 render alike.
 */

export interface NomadProfile {
  /** `major.minor` as given (the patch is dropped): `1.10`. */
  readonly version: string;
  /** Nomad-provider services take `check` blocks (1.4). */
  readonly serviceChecks: boolean;
  /** `datacenters` takes wildcards (1.5). */
  readonly datacenterWildcard: boolean;
}

/** The oldest and newest minor the table knows; newer minors are refused until checked. */
export const nomadMinors = ["1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "1.10"] as const;
export const defaultNomadVersion = "1.10";

function minorNumber(minor: string): number {
  return Number(minor.split(".")[1]);
}

export function nomadProfileOf(minor: string): NomadProfile {
  const at = minorNumber(minor);
  return { version: minor, serviceChecks: at >= 4, datacenterWildcard: at >= 5 };
}

export const defaultNomadProfile: NomadProfile = nomadProfileOf(defaultNomadVersion);

/** The profile of a face kind's `version` (`1.8` or `1.8.3`); an unsupported one is an issue at `path`. */
export function nomadProfile(
  version: string,
  path: readonly (string | number)[] = ["version"],
): Result<NomadProfile> {
  const match = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(version);
  const minor = match === null ? undefined : `${Number(match[1])}.${Number(match[2])}`;
  if (minor === undefined || !(nomadMinors as readonly string[]).includes(minor)) {
    const message = `Nomad ${JSON.stringify(version)} is not supported (supported: ${nomadMinors.join(", ")})`;
    return failed([{ code: "invalid_value", message, path: [...path] }]);
  }
  return ok(nomadProfileOf(minor));
}

/** The datacenter a Nomad agent is in when its configuration sets none. */
export const nomadDefaultDatacenter = "dc1";

/** Every datacenter the state's agents join, sorted: each node's zone, `dc1` for a node without one. */
export function agentDatacenters(state: FabricState): string[] {
  const datacenters = new Set(Object.values(state.nodes).map((node) => node.zone || nomadDefaultDatacenter));
  if (datacenters.size === 0) datacenters.add(nomadDefaultDatacenter);
  return [...datacenters].sort();
}
