import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { type ConnectionOptions, connect as connectTls } from "node:tls";
import { assert } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { serialHex } from "../pki/etcd-credentials.js";

/**
 * A live etcd cluster's membership, through `etcdctl` (API v3, `-w json`). This is the IO
 * half of the etcd membership procedure: the consensus side decides and commits each step,
 * then calls one of these; every call is bounded (dial and command timeouts, a kill deadline,
 * an output size cap) and idempotent where a resumed procedure may repeat it.
 *
 * Member ids are uint64. etcdctl prints them in JSON as bare integers past 2^53, which
 * `JSON.parse` would round, so integers are turned into decimal strings before parsing and
 * ids are kept as lowercase hex strings (what `etcdctl member promote|remove` take and what
 * its table output prints), never as JS numbers.
 */

export interface EtcdMember {
  /** The member id as lowercase hex without leading zeros (`6e2af4d914ba9e0`). */
  readonly id: string;
  /** The name etcd reports; empty for a member added but not started yet (etcd learns it on start). */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

export interface EtcdMembership {
  list(): Promise<readonly EtcdMember[]>;
  /** member add --learner; idempotent: a member already holding `peerUrl` is returned as is. */
  addLearner(name: string, peerUrl: string): Promise<EtcdMember>;
  /** member promote; "not-ready" while the learner is not in sync (etcd refuses), never throws for that. */
  promote(memberId: string): Promise<"promoted" | "not-ready">;
  /** member remove; idempotent (an unknown id is fine). */
  remove(memberId: string): Promise<void>;
}

/** No endpoint answered (connection refused, timed out, or the cluster has no leader). */
export class EtcdUnavailableError extends Error {
  override readonly name = "EtcdUnavailableError";
  readonly endpoints: readonly string[];
  readonly detail: string;

  constructor(endpoints: readonly string[], detail: string) {
    super(`etcd unavailable at ${endpoints.join(",")}: ${detail}`);
    this.endpoints = endpoints;
    this.detail = detail;
  }
}

/**
 * etcd answered and refused the request (too many learners, unknown member to promote, ...).
 * `retryable` when etcd refuses for now only: "unhealthy cluster" (removing a voter while
 * fewer than a quorum of the rest have been connected for 5 s, etcd's strict reconfig
 * check), "too many requests".
 */
export class EtcdRefusedError extends Error {
  override readonly name = "EtcdRefusedError";
  readonly operation: string;
  readonly reason: string;
  readonly retryable: boolean;

  constructor(operation: string, reason: string) {
    super(`etcd refused ${operation}: ${reason}`);
    this.operation = operation;
    this.reason = reason;
    this.retryable = retryableRefusals.some((refusal) => reason.includes(refusal));
  }
}

const retryableRefusals = ["etcdserver: unhealthy cluster", "etcdserver: too many requests"];

/** etcdctl itself failed: missing binary, output too large or not the JSON expected. */
export class EtcdctlError extends Error {
  override readonly name = "EtcdctlError";
  readonly operation: string;
  /** etcdctl panicked (its request may have been applied). */
  readonly crashed: boolean;

  constructor(operation: string, message: string, options?: { cause?: unknown; crashed?: boolean }) {
    super(`etcdctl ${operation}: ${message}`, options);
    this.operation = operation;
    this.crashed = options?.crashed === true;
  }
}

export interface EtcdctlOptions {
  readonly endpoints: readonly string[];
  /** Dial and command timeout of each etcdctl call (default 5000 ms). */
  readonly timeoutMs?: number;
  /** The etcdctl program (default `etcdctl`, looked up on PATH). */
  readonly etcdctl?: string;
  /** Client TLS (https endpoints): the cluster CA and a client certificate it issued. */
  readonly tls?: EtcdClientTls;
}

/** Files etcdctl reads for TLS (`--cacert`, `--cert`, `--key`); the key file is 0600. */
export interface EtcdClientTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export const etcdctlOutputBytesMax = 1 << 20;
export const etcdMembersMax = 128;
const urlsPerMemberMax = 16;
const etcdctlTimeoutMsDefault = 5_000;
const uint64Max = (1n << 64n) - 1n;
const hexIdPattern = /^[0-9a-f]{1,16}$/;
const memberNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const DecimalUint64 = z
  .string()
  .regex(/^\d{1,20}$/)
  .refine((text) => BigInt(text) <= uint64Max, "not a uint64");
const Url = z.string().min(1).max(1024);
const UrlList = z.array(Url).max(urlsPerMemberMax);

const MemberJson = z.object({
  ID: DecimalUint64,
  name: z.string().max(256).optional(),
  peerURLs: UrlList.optional(),
  clientURLs: UrlList.optional(),
  isLearner: z.boolean().optional(),
});
const MemberListJson = z.object({ members: z.array(MemberJson).max(etcdMembersMax).optional() });
const MemberAddJson = z.object({
  member: MemberJson,
  members: z.array(MemberJson).max(etcdMembersMax).optional(),
});
const SafeCount = z
  .string()
  .regex(/^\d{1,16}$/)
  .transform(Number)
  .refine((value) => Number.isSafeInteger(value), "not a safe integer");
const EndpointHealthJson = z
  .array(
    z.object({
      endpoint: Url,
      health: z.boolean(),
      took: z.string().max(64).optional(),
      error: z.string().max(4096).optional(),
    }),
  )
  .max(etcdMembersMax);
const EndpointStatusJson = z
  .array(
    z.object({
      Endpoint: Url,
      Status: z.object({
        header: z.object({ member_id: DecimalUint64 }),
        version: z.string().max(64),
        leader: DecimalUint64,
        raftIndex: SafeCount,
        raftTerm: SafeCount,
        raftAppliedIndex: SafeCount.optional(),
        isLearner: z.boolean().optional(),
        errors: z.array(z.string().max(4096)).max(64).optional(),
      }),
    }),
  )
  .max(etcdMembersMax);

/** One endpoint's answer to `etcdctl endpoint health`. */
export interface EtcdEndpointHealth {
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly error: string | null;
}

/** One endpoint's `etcdctl endpoint status`: who it is, who leads, how far its Raft log is. */
export interface EtcdEndpointStatus {
  readonly endpoint: string;
  readonly memberId: string;
  readonly leaderId: string;
  readonly version: string;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number | null;
  readonly raftTerm: number;
  readonly isLearner: boolean;
}

export function etcdctlMembership(options: EtcdctlOptions): EtcdMembership {
  const run = etcdctlRunner(options);
  const list = async (): Promise<readonly EtcdMember[]> => {
    const output = await run("member list", ["member", "list"]);
    return (parseOutput("member list", output, MemberListJson).members ?? []).map(memberOf);
  };
  return {
    list,
    async addLearner(name, peerUrl) {
      assert(memberNamePattern.test(name), `etcd member name not usable in --initial-cluster: ${name}`);
      assert(isHttpUrl(peerUrl), `peer URL is not an http(s) URL: ${peerUrl}`);
      const existing = (await list()).find((member) => member.peerUrls.includes(peerUrl));
      if (existing !== undefined) return named(existing, name);
      const operation = "member add";
      const args = ["member", "add", name, "--learner", `--peer-urls=${peerUrl}`];
      const answer = await run(operation, args, ["Peer URLs already exists"]);
      if (answer.refused !== null) {
        const raced = (await list()).find((member) => member.peerUrls.includes(peerUrl));
        if (raced === undefined) throw new EtcdRefusedError(operation, answer.refused);
        return named(raced, name);
      }
      return named(memberOf(parseOutput(operation, answer, MemberAddJson).member), name);
    },
    async promote(memberId) {
      assert(hexIdPattern.test(memberId), `etcd member id is not lowercase hex: ${memberId}`);
      // etcd's ErrLearnerNotReady contains ErrMemberNotLearner's text, so it is checked first.
      const notReady = "can only promote a learner member which is in sync with leader";
      const notLearner = "can only promote a learner member";
      const answer = await run(
        "member promote",
        ["member", "promote", memberId],
        [notReady, notLearner],
      ).catch(async (error: unknown) => {
        // etcdctl 3.4 can crash printing a promote's answer (-w json) after etcd applied it:
        // etcd's member list says what happened.
        if (!(error instanceof EtcdctlError) || !error.crashed) throw error;
        const member = (await this.list()).find((candidate) => candidate.id === memberId);
        if (member === undefined) throw error;
        return { stdout: "", refused: member.isLearner ? notReady : notLearner };
      });
      if (answer.refused === null) return "promoted";
      return answer.refused.includes(notReady) ? "not-ready" : "promoted";
    },
    async remove(memberId) {
      assert(hexIdPattern.test(memberId), `etcd member id is not lowercase hex: ${memberId}`);
      await run("member remove", ["member", "remove", memberId], ["member not found"]);
    },
  };
}

/** `etcdctl endpoint health` of each endpoint: an unhealthy one is reported, not thrown. */
export async function etcdctlEndpointHealth(options: EtcdctlOptions): Promise<readonly EtcdEndpointHealth[]> {
  const run = etcdctlRunner(options);
  // etcdctl exits 1 when an endpoint is unhealthy but still prints every endpoint's answer.
  const output = await run("endpoint health", ["endpoint", "health"], [], true);
  return parseOutput("endpoint health", output, EndpointHealthJson).map((entry) => ({
    endpoint: entry.endpoint,
    healthy: entry.health,
    error: entry.error ?? null,
  }));
}

/** `etcdctl endpoint status` of each endpoint (raft index and leader: a learner's lag). */
export async function etcdctlEndpointStatus(options: EtcdctlOptions): Promise<readonly EtcdEndpointStatus[]> {
  const run = etcdctlRunner(options);
  const output = await run("endpoint status", ["endpoint", "status"]);
  return parseOutput("endpoint status", output, EndpointStatusJson).map((entry) => ({
    endpoint: entry.Endpoint,
    memberId: hexId(entry.Status.header.member_id),
    leaderId: hexId(entry.Status.leader),
    version: entry.Status.version,
    raftIndex: entry.Status.raftIndex,
    raftAppliedIndex: entry.Status.raftAppliedIndex ?? null,
    raftTerm: entry.Status.raftTerm,
    isLearner: entry.Status.isLearner ?? false,
  }));
}

/**
 * `--initial-cluster` for a member joining after `member add`, the way etcdctl prints
 * `ETCD_INITIAL_CLUSTER`: every member's name=peerUrl, the joining member under its own
 * name (etcd does not know it yet).
 */
export function initialClusterOf(
  members: readonly EtcdMember[],
  joining: { readonly id: string; readonly name: string },
): readonly { readonly name: string; readonly peerUrl: string }[] {
  assert(
    members.some((member) => member.id === joining.id),
    "the joining member is not in the list",
  );
  return members.flatMap((member) =>
    member.peerUrls.map((peerUrl) => ({
      name: member.id === joining.id ? joining.name : member.name,
      peerUrl,
    })),
  );
}

/** Decimal uint64 text to etcdctl's hex id. */
export function hexId(decimal: string): string {
  const value = BigInt(decimal);
  assert(value >= 0n && value <= uint64Max, `member id out of uint64 range: ${decimal}`);
  return value.toString(16);
}

interface EtcdctlAnswer {
  readonly stdout: string;
  /** The refusal message when etcd refused with one of the accepted reasons, else null. */
  readonly refused: string | null;
}

type EtcdctlRun = (
  operation: string,
  args: readonly string[],
  acceptedRefusals?: readonly string[],
  outputOnFailure?: boolean,
) => Promise<EtcdctlAnswer>;

function etcdctlRunner(options: EtcdctlOptions): EtcdctlRun {
  const endpoints = [...options.endpoints];
  assert(endpoints.length > 0, "etcdctl needs at least one endpoint");
  assert(endpoints.every(isHttpUrl), `an endpoint is not an http(s) URL: ${endpoints.join(",")}`);
  const timeoutMs = options.timeoutMs ?? etcdctlTimeoutMsDefault;
  assert(Number.isSafeInteger(timeoutMs) && timeoutMs > 0, `etcdctl timeout is not positive: ${timeoutMs}`);
  const program = options.etcdctl ?? "etcdctl";
  const common = [
    `--endpoints=${endpoints.join(",")}`,
    `--dial-timeout=${timeoutMs}ms`,
    `--command-timeout=${timeoutMs}ms`,
    "--write-out=json",
    ...(options.tls === undefined
      ? []
      : [`--cacert=${options.tls.caFile}`, `--cert=${options.tls.certFile}`, `--key=${options.tls.keyFile}`]),
  ];
  return (operation, args, acceptedRefusals = [], outputOnFailure = false) =>
    new Promise((resolve, reject) => {
      const env = { ...process.env, ETCDCTL_API: "3" };
      // A backstop: etcdctl honours its own timeouts; this kills it if it hangs anyway.
      const killAfterMs = timeoutMs * 2 + 2_000;
      const execOptions = { env, timeout: killAfterMs, killSignal: "SIGKILL" as const };
      execFile(
        program,
        [...common, ...args],
        { ...execOptions, maxBuffer: etcdctlOutputBytesMax, encoding: "utf8" },
        (error, stdout, stderr) => {
          if (error === null) return resolve({ stdout, refused: null });
          const failure = classifyFailure(operation, endpoints, error, stderr);
          if (failure instanceof EtcdRefusedError) {
            if (acceptedRefusals.some((reason) => failure.reason.includes(reason))) {
              return resolve({ stdout, refused: failure.reason });
            }
            if (outputOnFailure && stdout.trim() !== "") return resolve({ stdout, refused: failure.reason });
          }
          if (failure instanceof EtcdUnavailableError && options.tls !== undefined) {
            // etcdctl 3.4 reports a refused TLS handshake as a timeout; say what TLS said.
            void probeTls(endpoints, options.tls, timeoutMs).then((reason) =>
              reject(
                reason === null
                  ? failure
                  : new EtcdUnavailableError(endpoints, `TLS handshake refused: ${reason}`),
              ),
            );
            return;
          }
          reject(failure);
        },
      );
    });
}

const unavailableSignatures = [
  "context deadline exceeded",
  "connection refused",
  "TransientFailure",
  "code = Unavailable",
  "no such host",
  "i/o timeout",
  "etcdserver: request timed out",
  "etcdserver: no leader",
  "etcdserver: leader changed",
];

function classifyFailure(
  operation: string,
  endpoints: readonly string[],
  error: Error & { code?: unknown; killed?: boolean },
  stderr: string,
): Error {
  if (error.code === "ENOENT")
    return new EtcdctlError(operation, "etcdctl not found on PATH", { cause: error });
  if (error.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") {
    return new EtcdctlError(operation, `output over ${etcdctlOutputBytesMax} bytes`, { cause: error });
  }
  // gRPC retries a failed TLS handshake until the dial timeout, so the final line says only
  // "context deadline exceeded"; the handshake's reason is in an earlier warning line.
  const tls = tlsFailure(stderr);
  if (tls !== null) return new EtcdUnavailableError(endpoints, `TLS handshake refused: ${tls}`);
  if (error.killed === true) return new EtcdUnavailableError(endpoints, "etcdctl did not finish in time");
  const panic = /^panic: .{0,300}/m.exec(stderr.slice(-65_536));
  if (panic !== null)
    return new EtcdctlError(operation, `crashed: ${panic[0]}`, { cause: error, crashed: true });
  const message = lastErrorLine(stderr);
  if (unavailableSignatures.some((signature) => message.includes(signature))) {
    return new EtcdUnavailableError(endpoints, message);
  }
  return new EtcdRefusedError(operation, message);
}

/**
 * A TLS handshake with the first endpoint as etcdctl would make it; the reason it fails
 * (server certificate not trusted, this client's certificate refused), or null when it
 * succeeds or the endpoint does not answer at all. Bounded by `timeoutMs`.
 */
export async function probeTls(
  endpoints: readonly string[],
  tls: EtcdClientTls,
  timeoutMs: number,
): Promise<string | null> {
  const options = await tlsConnectOptions(endpoints[0], tls);
  if (options === null) return null;
  if (typeof options === "string") return options;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (reason: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const socket = connectTls(options);
    let secured = false;
    // TLS 1.3: the server checks the client's certificate after the handshake and answers a
    // bad one with an alert, so a clean handshake waits a moment for that alert.
    socket.once("secureConnect", () => {
      secured = true;
      setTimeout(() => finish(null), Math.min(500, timeoutMs));
    });
    // etcd checks its revocation list after the handshake and just closes the connection.
    const closedAfterHandshake =
      "etcd closed the connection after the TLS handshake (a revoked client certificate?)";
    socket.once("close", () => {
      if (secured) finish(closedAfterHandshake);
    });
    socket.once("error", (error: Error & { code?: string }) => {
      if (secured && error.code === "ECONNRESET") return finish(closedAfterHandshake);
      finish(
        error.code === "ECONNREFUSED" || error.code === "ECONNRESET" ? null : error.message.slice(0, 300),
      );
    });
    const timer = setTimeout(() => finish(null), timeoutMs);
  });
}

/**
 * The serial (lowercase hex, no leading zeros) of the certificate the etcd member at
 * `endpoint` presents in a TLS handshake as etcdctl makes it; null when it does not answer.
 */
export async function presentedSerial(
  endpoint: string,
  tls: EtcdClientTls,
  timeoutMs: number,
): Promise<string | null> {
  const options = await tlsConnectOptions(endpoint, tls);
  if (options === null || typeof options === "string") return null;
  return new Promise((resolve) => {
    const socket = connectTls(options);
    const finish = (serial: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(serial);
    };
    socket.once("secureConnect", () => {
      const serial = socket.getPeerCertificate().serialNumber;
      finish(typeof serial === "string" && serial.length > 0 ? serialHex(serial) : null);
    });
    socket.once("error", () => finish(null));
    const timer = setTimeout(() => finish(null), timeoutMs);
  });
}

/** How to reach an https endpoint with the client's TLS files; null: not https; a string: why not. */
async function tlsConnectOptions(
  endpoint: string | undefined,
  tls: EtcdClientTls,
): Promise<ConnectionOptions | string | null> {
  if (endpoint === undefined || !URL.canParse(endpoint)) return null;
  const url = new URL(endpoint);
  if (url.protocol !== "https:") return null;
  try {
    return {
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port),
      ca: await readFile(tls.caFile, "utf8"),
      cert: await readFile(tls.certFile, "utf8"),
      key: await readFile(tls.keyFile, "utf8"),
      servername: isIP(url.hostname) === 0 ? url.hostname : undefined,
      ALPNProtocols: ["h2"],
    };
  } catch (error) {
    return `cannot read the client TLS files (${error instanceof Error && "path" in error ? String(error.path) : "?"})`;
  }
}

const tlsFailurePattern =
  /(x509: [^"\\]{1,200}|tls: [^"\\]{1,200}|remote error: tls: [^"\\]{1,200}|first record does not look like a TLS handshake)/;

/** The reason of a TLS handshake failure in etcdctl's output (bounded), or null. */
function tlsFailure(stderr: string): string | null {
  const match = tlsFailurePattern.exec(stderr.slice(-65_536));
  return match === null ? null : (match[1] ?? null);
}

/** etcdctl ends with `Error: <message>` after its JSON warning lines; keep that message, bounded. */
function lastErrorLine(stderr: string): string {
  const lines = stderr.trim().split("\n").slice(-64);
  const errorLine = lines.findLast((line) => line.startsWith("Error: "));
  const message = errorLine === undefined ? (lines.at(-1) ?? "") : errorLine.slice("Error: ".length);
  return message.trim().slice(0, 1_000) || "etcdctl failed without a message";
}

function parseOutput<T>(operation: string, answer: EtcdctlAnswer, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(quoteIntegers(answer.stdout));
  } catch (error) {
    throw new EtcdctlError(operation, "output is not JSON", { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? "" : `${issue.path.join(".") || "(root)"}: ${issue.message}`;
    throw new EtcdctlError(operation, `output does not have the expected shape: ${where}`);
  }
  return parsed.data;
}

/**
 * JSON text with every integer literal (outside strings) turned into a decimal string, so
 * uint64 ids survive `JSON.parse`. Numbers with a fraction or exponent are left alone.
 */
export function quoteIntegers(text: string): string {
  assert(text.length <= etcdctlOutputBytesMax, "etcdctl output over its bound");
  let result = "";
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '"') {
      const end = stringEnd(text, index);
      result += text.slice(index, end);
      index = end;
      continue;
    }
    const number = /[-\d]/.test(char)
      ? /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(index, index + 64))
      : null;
    if (number !== null) {
      const literal = number[0];
      result += number[1] === undefined && number[2] === undefined ? `"${literal}"` : literal;
      index += literal.length;
      continue;
    }
    result += char;
    index += 1;
  }
  return result;
}

/** The index just past the string literal that opens at `start` (or the text's end). */
function stringEnd(text: string, start: number): number {
  let index = start + 1;
  while (index < text.length) {
    const char = text[index];
    if (char === "\\") index += 2;
    else if (char === '"') return index + 1;
    else index += 1;
  }
  return text.length;
}

function memberOf(member: z.infer<typeof MemberJson>): EtcdMember {
  return {
    id: hexId(member.ID),
    name: member.name ?? "",
    peerUrls: member.peerURLs ?? [],
    clientUrls: member.clientURLs ?? [],
    isLearner: member.isLearner ?? false,
  };
}

/** etcd learns a member's name only when it starts: until then, the name it was added under. */
function named(member: EtcdMember, name: string): EtcdMember {
  return member.name === "" ? { ...member, name } : member;
}

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return url.protocol === "http:" || url.protocol === "https:";
}
