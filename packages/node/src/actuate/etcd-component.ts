import {
  advertiseHost,
  componentOfRole,
  type EtcdClusterState,
  etcdClientPort,
  etcdClusterState,
  etcdMemberName,
  etcdMembers,
  etcdPeerPort,
} from "@revoada/fabric-core/face";
import { assert, type FabricState, type NodeState } from "@revoada/fabric-core/vocabulary";
import type { ComponentSpec } from "./process-runtime.js";

/**
 * The etcd member this machine runs under the `process` runtime, as a `ComponentSpec`.
 *
 * Member names, the founding rule (`new` for the first etcd member, `existing` for every
 * joiner) and the component's name come from `fabric-core/face/control-plane.ts`, the one
 * source of truth the faces use. Its flag list is not reused as is: it fixes the ports
 * (2379/2380/2381, so several members cannot share a host), points at kubeadm's certificate
 * paths, and follows the targeted Kubernetes release's etcd (1.34's `--feature-gates` is an
 * etcd 3.6 flag Debian's 3.4.23 refuses); this short list is one every etcd from 3.4 on
 * accepts. Here the addresses are given as host:port; with `tls` the member speaks
 * https on both URLs and asks every peer and client for a certificate of the cluster CA
 * (`--peer-client-cert-auth`, `--client-cert-auth`), so nothing without one joins or reads.
 */

export interface EtcdComponentOptions {
  /** The member name (`etcdMemberName(node)` for a fabric node). */
  readonly name: string;
  readonly dataDirectory: string;
  /** host:port the member listens on and advertises for peers. */
  readonly peerAddress: string;
  /** host:port the member listens on and advertises for clients. */
  readonly clientAddress: string;
  /** Every member's name and peer URL, this member's included (for a joiner: what `member add` returned). */
  readonly initialCluster: readonly { readonly name: string; readonly peerUrl: string }[];
  readonly clusterState: EtcdClusterState;
  /** The etcd program (default `etcd`, looked up on PATH). */
  readonly command?: string;
  /** The component name, also its log file name (default `etcd`). */
  readonly componentName?: string;
  /** TLS on peer and client URLs: the member's certificate (server and client use) and the CA. */
  readonly tls?: EtcdMemberTls;
}

/** Files of a member's TLS: one certificate serves both its peer and client listeners. */
export interface EtcdMemberTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA's revocation list: peers and clients presenting a revoked certificate are refused. */
  readonly revocationFile?: string;
}

const hostPortPattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** `http://host:port` of a host:port address (IPv6 hosts in brackets); `https://` with `tls`. */
export function httpUrl(address: string, tls = false): string {
  const match = hostPortPattern.exec(address);
  assert(match !== null, `not a host:port address: ${address}`);
  const port = Number(match[2]);
  assert(port > 0 && port <= 65_535, `port out of range in ${address}`);
  return `${tls ? "https" : "http"}://${address}`;
}

/** The host of a host:port address, without IPv6 brackets (a certificate's subject name). */
export function hostOf(address: string): string {
  const match = hostPortPattern.exec(address);
  assert(match !== null, `not a host:port address: ${address}`);
  return (match[1] ?? "").replace(/^\[|\]$/g, "");
}

export function etcdComponentSpec(options: EtcdComponentOptions): ComponentSpec {
  const tls = options.tls;
  const peerUrl = httpUrl(options.peerAddress, tls !== undefined);
  const clientUrl = httpUrl(options.clientAddress, tls !== undefined);
  assert(options.initialCluster.length > 0, "an etcd member needs an initial cluster");
  assert(
    options.initialCluster.some((member) => member.name === options.name && member.peerUrl === peerUrl),
    `--initial-cluster does not list ${options.name}=${peerUrl}`,
  );
  assert(
    options.initialCluster.every((member) => !/[,=\s]/.test(member.name)),
    "an --initial-cluster member name holds ',', '=' or a space",
  );
  const cluster = options.initialCluster.map((member) => `${member.name}=${member.peerUrl}`).join(",");
  return {
    name: options.componentName ?? componentOfRole.etcd,
    command: options.command ?? componentOfRole.etcd,
    args: [
      `--advertise-client-urls=${clientUrl}`,
      `--data-dir=${options.dataDirectory}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${cluster}`,
      `--initial-cluster-state=${options.clusterState}`,
      `--listen-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--name=${options.name}`,
      "--snapshot-count=10000",
      ...(tls === undefined
        ? []
        : [
            `--cert-file=${tls.certFile}`,
            `--key-file=${tls.keyFile}`,
            `--trusted-ca-file=${tls.caFile}`,
            "--client-cert-auth=true",
            `--peer-cert-file=${tls.certFile}`,
            `--peer-key-file=${tls.keyFile}`,
            `--peer-trusted-ca-file=${tls.caFile}`,
            "--peer-client-cert-auth=true",
            ...(tls.revocationFile === undefined
              ? []
              : [`--client-crl-file=${tls.revocationFile}`, `--peer-crl-file=${tls.revocationFile}`]),
          ]),
    ],
  };
}

export interface EtcdNodeAddresses {
  readonly peerAddress: string;
  readonly clientAddress: string;
}

/** The default addresses: the node's advertised host with etcd's standard ports. */
export function standardEtcdAddresses(node: NodeState): EtcdNodeAddresses {
  const host = advertiseHost(node);
  return { peerAddress: `${host}:${etcdPeerPort}`, clientAddress: `${host}:${etcdClientPort}` };
}

/**
 * The etcd member of `node` as the committed state describes it: name from
 * `etcdMemberName`, `new` or `existing` from `etcdClusterState`, and `--initial-cluster`
 * from every etcd holder. A joining member should rather be given the cluster `member add`
 * returned (`initialClusterOf` in etcd-membership.ts): pass it as `initialCluster`.
 */
export function etcdComponentForNode(
  state: FabricState,
  node: NodeState,
  options: {
    readonly dataDirectory: string;
    readonly addressesOf?: (node: NodeState) => EtcdNodeAddresses;
    readonly initialCluster?: EtcdComponentOptions["initialCluster"];
    readonly command?: string;
  },
): ComponentSpec {
  const addressesOf = options.addressesOf ?? standardEtcdAddresses;
  const members = etcdMembers(state);
  const holders = members.some((member) => member.id === node.id) ? members : [...members, node];
  const initialCluster =
    options.initialCluster ??
    holders.map((member) => ({
      name: etcdMemberName(member),
      peerUrl: httpUrl(addressesOf(member).peerAddress),
    }));
  const addresses = addressesOf(node);
  return etcdComponentSpec({
    name: etcdMemberName(node),
    dataDirectory: options.dataDirectory,
    peerAddress: addresses.peerAddress,
    clientAddress: addresses.clientAddress,
    initialCluster,
    clusterState: etcdClusterState(state, node),
    ...(options.command === undefined ? {} : { command: options.command }),
  });
}
