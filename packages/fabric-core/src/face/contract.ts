import type { FabricIssue, FabricState, NodeId, Result } from "../vocabulary/index.js";

/**
 * The face contract: a face turns the one fabric state into the files an orchestrator
 * reads (Writer) and reads them back (Reader), reporting precisely what it cannot carry.
 */

/** A rendered file: a relative POSIX path and its exact text. */
export interface FaceFile {
  readonly path: string;
  readonly content: string;
}

/** Something the target format cannot express and the Writer left out. */
export interface DroppedField {
  /** Path into the fabric state, e.g. ["workloads", "default/web", "config_blobs"]. */
  readonly path: readonly (string | number)[];
  readonly reason: string;
}

/**
 * A field the face's files never carry, declared once per face: `path` is a pattern into the
 * state (`"*"` matches any key of a map, e.g. `["nodes", "*", "capacity"]`). A read of the
 * files has no value there: the reader puts the schema's zero in `state`, and `revoada read`
 * shows the field as absent and says why. `approximate` marks a field that is carried, but
 * rounded (what is read back is close, not equal).
 */
export interface LostField {
  readonly path: readonly string[];
  readonly reason: string;
  readonly approximate?: boolean;
}

/** Something in the files the Reader did not understand (and ignored). */
export interface UnknownField {
  readonly file: string;
  readonly path: readonly (string | number)[];
  readonly line?: number;
  readonly column?: number;
  readonly reason: string;
}

/**
 * What to render: the whole cluster (every node's files, under `nodes/<name>/` where a
 * face has per-node files) or one node's view (only what that node runs).
 */
export type RenderScope = { readonly kind: "cluster" } | { readonly kind: "node"; readonly node: NodeId };

export interface WriteResult {
  readonly files: readonly FaceFile[];
  readonly dropped: readonly DroppedField[];
}

export interface ReadResult {
  readonly state: FabricState;
  readonly unknown: readonly UnknownField[];
}

/** An etcd member the fabric machine committed (`etcd-member` records; `member_id` and all may ride along). */
export interface CommittedEtcdMember {
  readonly node: NodeId;
  readonly learner: boolean;
}

/**
 * What a render may know beyond the fabric state, all optional (a face renders from the state
 * alone without it): the etcd members the machine committed, which decide a joining member's
 * `--initial-cluster`/`--initial-cluster-state` (`etcdMembership` in control-plane.ts), and
 * whether the node keeps etcd's revocation list where the rendered etcd reads it.
 */
export interface RenderContext {
  readonly etcdMembers?: readonly CommittedEtcdMember[];
  /**
   * True when the node has written the cluster CA's etcd revocation list at
   * `etcdRevocationListFile` (control-plane.ts): the rendered etcd then carries
   * `--client-crl-file`/`--peer-crl-file` on it. Never set for a file that is not there:
   * etcd refuses every TLS connection while a list it was given is missing.
   */
  readonly etcdRevocationList?: boolean;
}

export interface FaceWriter {
  /**
   * Pure and byte-stable: the same state, scope and context give the same files, in the same
   * order. `context` is additive: faces that render no etcd ignore it.
   */
  write(state: FabricState, scope: RenderScope, context?: RenderContext): WriteResult;
}

export interface FaceReader {
  /** Reads cluster-scope output back. Issues name the file, line and column. */
  read(files: readonly FaceFile[]): Promise<Result<ReadResult>>;
}

export interface Face {
  /** Registry name: `kubernetes`, `nomad`, `systemd`, `pureraft`, `baremetal`, or a plugin's. */
  readonly id: string;
  /**
   * The kind of orchestrator it serves: an open name, lowercase letters, digits and `-`
   * (`kubernetes`, `nomad`, `systemd`, `pure-raft`, `bare-metal-supervisor`, `docker-compose`,
   * ...); `checkFaceShape` validates it with `faceProtocolPattern`.
   */
  readonly protocol: string;
  readonly description: string;
  readonly writer: FaceWriter;
  readonly reader: FaceReader;
  /** The subset of a state this face models: `read(write(s)).state` equals `model(s)`. */
  model(state: FabricState): FabricState;
  /**
   * The fields this face cannot represent (see `LostField`); none when absent. The conformance
   * kit checks it against the writer's `dropped` list: a lost field whose value `model` changed
   * is reported dropped, and every dropped field is a declared loss or an entry `model` removed.
   */
  readonly lost?: readonly LostField[];
  /** Checks rendered files against the target's own rules; empty means valid. */
  validate?(files: readonly FaceFile[]): Promise<readonly FabricIssue[]>;
  /**
   * For faces that run containers: the environment the orchestrator gives each workload's
   * containers when it runs these cluster-scope files, with its own run-time expansion and
   * escapes applied (Kubernetes' `$(VAR)`/`$$`, systemd's `Environment=` quoting and `%`
   * specifiers), keyed `namespace/name`. The conformance kit checks that it equals the state's
   * `env` for every workload written, so one state gives one environment in every face.
   */
  containerEnvironments?(files: readonly FaceFile[]): Promise<Result<ContainerEnvironments>>;
  /**
   * The parameters this face takes from its face kind (`version`, `user_units`, ...): for each,
   * values that each render differently. The conformance kit configures the face with every
   * value and fails when two of them render the same files for every example state: a
   * parameter that changes nothing is a defect.
   */
  readonly parameters?: readonly FaceParameter[];
  /**
   * This face with `parameters` applied (a parameter not given keeps its default). Unknown
   * names and unsupported values are issues naming the parameter (`path: [name]`).
   */
  configure?(parameters: FaceParameters): Result<Face>;
}

/** A parameter value, as a face kind carries it. */
export type FaceParameterValue = string | number | boolean;

/** Parameter name -> value: a built-in face kind without its `protocol`, or an add-on's `options`. */
export type FaceParameters = Readonly<Record<string, FaceParameterValue>>;

export interface FaceParameter {
  /** The face kind's field: `version`, `user_units`. */
  readonly name: string;
  /** What it changes in the files, in a sentence (for `face list` and the docs). */
  readonly description: string;
  /** The value used when the kind does not give one. */
  readonly default: FaceParameterValue;
  /** Values that each render differently (at least two); the kit renders every one. */
  readonly values: readonly FaceParameterValue[];
}

/** Workload key (`namespace/name`) -> environment variable name -> value. */
export type ContainerEnvironments = Readonly<Record<string, Readonly<Record<string, string>>>>;
