import { type FabricIssue, failed, ok, type Result } from "../vocabulary/index.js";

/**
 * The Kubernetes releases the faces render, one row per supported minor: the component image
 * tag a minor alone pins, the etcd image kubeadm of that release runs (its
 * `SupportedEtcdVersion`), and what differs in the control plane between them. Researched
 * against kubeadm's `cmd/kubeadm/app/constants/constants.go` and
 * `cmd/kubeadm/app/phases/etcd/local.go` (and the pull requests that changed them); the
 * kube-apiserver, kube-controller-manager and kube-scheduler flags kubeadm writes did not change
 * between 1.28 and 1.34, so only etcd's do:
 *
 * - etcd flags: kubeadm's etcd 3.5 releases pass `--experimental-initial-corrupt-check=true`
 *   and `--experimental-watch-progress-notify-interval=5s`; with etcd 3.6 (Kubernetes 1.34)
 *   kubeadm passes `--feature-gates=InitialCorruptCheck=true` and
 *   `--watch-progress-notify-interval=5s` (etcd 3.6 deprecates the `--experimental-` names). The
 *   3.5 spelling is also what etcd 3.4.10+ accepts (Debian 12's etcd-server is 3.4.23);
 *   `--feature-gates` is not an etcd 3.4/3.5 flag.
 * - etcd probes: from 1.31 kubeadm probes etcd's `/livez` (liveness) and `/readyz` (readiness
 *   and startup), endpoints etcd 3.5.11 added (kubernetes/kubernetes#124465); before it,
 *   liveness is `/health?exclude=NOSPACE&serializable=true`, startup `/health?serializable=false`
 *   and there is no readiness probe.
 *
 * A version given with its patch (`1.30.14`) runs those component images; the etcd image and
 * the flags stay the minor's row.
 */

export type EtcdFlagSet = "3.5" | "3.6";
export type EtcdProbeSet = "health" | "livez-readyz";

export interface KubernetesRelease {
  /** `1.30`. */
  readonly minor: string;
  /** The tag of kube-apiserver, kube-controller-manager and kube-scheduler: `v1.30.0`. */
  readonly kubernetes: string;
  /** The etcd image tag kubeadm of that release runs: `3.5.12-0`. */
  readonly etcd: string;
  readonly etcdFlags: EtcdFlagSet;
  readonly etcdProbes: EtcdProbeSet;
}

function release(
  minor: string,
  patch: number,
  etcd: string,
  etcdFlags: EtcdFlagSet,
  etcdProbes: EtcdProbeSet,
): KubernetesRelease {
  return { minor, kubernetes: `v${minor}.${patch}`, etcd, etcdFlags, etcdProbes };
}

/**
 * Every supported minor, oldest first. The pinned patch is the minor's first release (1.34:
 * 1.34.1, what the faces pinned before the table) with the etcd image its kubeadm named;
 * later patches of a minor moved to newer etcd 3.5 builds, so give the patch in `version` to
 * follow one.
 */
export const kubernetesReleases: readonly KubernetesRelease[] = [
  release("1.28", 0, "3.5.9-0", "3.5", "health"),
  release("1.29", 0, "3.5.10-0", "3.5", "health"),
  release("1.30", 0, "3.5.12-0", "3.5", "health"),
  release("1.31", 0, "3.5.15-0", "3.5", "livez-readyz"),
  release("1.32", 0, "3.5.16-0", "3.5", "livez-readyz"),
  release("1.33", 0, "3.5.21-0", "3.5", "livez-readyz"),
  release("1.34", 1, "3.6.4-0", "3.6", "livez-readyz"),
];

/** The release the faces render when no version is given: the prescribed face's (`k8s-v1.34`). */
export const defaultKubernetesRelease: KubernetesRelease = kubernetesReleases.at(-1)!;

const versionPattern = /^(\d+)\.(\d+)(?:\.(\d+))?$/;

/**
 * The release a face kind's `version` names: `1.30` (the pinned patch) or `1.30.14` (that
 * patch's component images, the minor's etcd and flags). An unsupported minor is an issue at
 * `path` naming the supported ones.
 */
export function kubernetesRelease(
  version: string,
  path: readonly (string | number)[] = ["version"],
): Result<KubernetesRelease> {
  const match = versionPattern.exec(version);
  const issue = (message: string): FabricIssue => ({ code: "invalid_value", message, path: [...path] });
  if (match === null)
    return failed([issue(`${JSON.stringify(version)} is not a version like 1.30 or 1.30.14`)]);
  const minor = `${Number(match[1])}.${Number(match[2])}`;
  const row = kubernetesReleases.find((candidate) => candidate.minor === minor);
  if (row === undefined) {
    const supported = kubernetesReleases.map((candidate) => candidate.minor).join(", ");
    return failed([issue(`Kubernetes ${minor} is not supported (supported minors: ${supported})`)]);
  }
  return ok(match[3] === undefined ? row : { ...row, kubernetes: `v${minor}.${Number(match[3])}` });
}
