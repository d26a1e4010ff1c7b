import type { FabricIssue } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import { parseHostPort } from "../gossip/gossip-driver.js";
import { isLoopbackHost } from "../join/join-token.js";

/**
 * `api:` in node.yaml: how the HTTP API is served (docs/join.md, "The HTTPS API"). Absent, or
 * with nothing set, the API is HTTPS with a certificate the node issues itself at every start
 * from the cluster CA's key (`pki.ca_key_file`), or the one named here; reads need the read
 * token or the admin token. Plain HTTP and open reads are explicit, and allowed only when
 * `listen.api` is a loopback address (the local mesh of `revoada up` asks for both).
 */
export const ApiConfig = z.strictObject({
  /** Serve plain HTTP instead of TLS (loopback only). */
  plain_http: z.boolean().optional(),
  /** Reads need no token (loopback only). */
  open_reads: z.boolean().optional(),
  /** A second token that may read but not change anything (0600 file, 16+ characters). */
  read_token_file: z.string().min(1).optional(),
  /** The API's certificate (PEM) and key, issued by the cluster CA; absent: issued at start. */
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
});
export type ApiConfig = z.infer<typeof ApiConfig>;

/** The parts of a node config the API's checks read. */
interface ApiConfigContext {
  readonly listen: { readonly api: string };
  readonly api?: ApiConfig | undefined;
  readonly pki?: { readonly ca_cert_file: string; readonly ca_key_file?: string | undefined } | undefined;
}

/** Whether the API serves TLS (everything but an explicit `plain_http: true`). */
export function apiUsesTls(config: ApiConfigContext): boolean {
  return config.api?.plain_http !== true;
}

/** What is wrong with the `api:` section against the rest of the config (paths name the field). */
export function apiConfigIssues(config: ApiConfigContext): FabricIssue[] {
  const issues: FabricIssue[] = [];
  const api = config.api ?? {};
  const host = parseHostPort(config.listen.api)?.host ?? "";
  const loopback = isLoopbackHost(host);
  if (api.plain_http === true && !loopback) {
    issues.push({
      code: "api-plain-http",
      message: `plain HTTP is allowed only on a loopback address; listen.api is ${config.listen.api}`,
      path: ["api", "plain_http"],
    });
  }
  if (api.open_reads === true && !loopback) {
    issues.push({
      code: "api-open-reads",
      message: `open reads are allowed only on a loopback address; listen.api is ${config.listen.api}`,
      path: ["api", "open_reads"],
    });
  }
  if ((api.cert_file === undefined) !== (api.key_file === undefined)) {
    issues.push({
      code: "api-certificate",
      message: "api.cert_file and api.key_file go together",
      path: ["api", api.cert_file === undefined ? "cert_file" : "key_file"],
    });
  }
  if (apiUsesTls(config) && config.pki === undefined) {
    issues.push({
      code: "api-tls",
      message:
        "the API serves TLS with the cluster CA: name it in pki.ca_cert_file (or set api.plain_http on loopback)",
      path: ["pki"],
    });
  }
  if (apiUsesTls(config) && api.cert_file === undefined && config.pki?.ca_key_file === undefined) {
    issues.push({
      code: "api-tls",
      message:
        "the API's certificate is issued at start from the CA key: set pki.ca_key_file, or api.cert_file and api.key_file",
      path: ["api", "cert_file"],
    });
  }
  return issues;
}
