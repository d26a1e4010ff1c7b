import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import type { PeerCertificate } from "node:tls";

/**
 * A `fetch` for the node API over TLS that trusts exactly one CA (the cluster's), answering
 * with a WHATWG `Response` so callers treat HTTP and HTTPS alike. Node's global fetch cannot
 * be handed a CA without the undici package; `node:https` can. The reply is bounded.
 */
export interface HttpsFetchOptions {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The only CA the server's chain may lead to (PEM). */
  readonly caPem: string;
  readonly timeoutMs: number;
  /**
   * Accept any certificate the CA issued, whatever names it carries (the join: the operator
   * typed an address the server's certificate need not name; the CA pin is the trust).
   */
  readonly anyNameTheCaIssued?: boolean;
}

/** The longest reply read (a chain export is the largest). */
export const httpsReplyBytesMax = 256 * 1024 * 1024;

/**
 * How long an idle connection stays in a pool: under the API server's keep-alive timeout
 * (5 s, http-server.ts), so the client closes it first and a request never lands on a
 * connection the server is closing.
 */
const idleConnectionMs = 4_000;

/**
 * One keep-alive pool per trusted CA. Without it every request paid a TLS handshake on both
 * ends (two ECDSA signatures' worth of CPU): a relay follower renews its long poll every
 * second, so a voter feeding 24 followers did 24 handshakes a second at rest.
 */
const agents = new Map<string, Agent>();

function agentFor(caPem: string): Agent {
  let agent = agents.get(caPem);
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, ca: caPem, timeout: idleConnectionMs, maxFreeSockets: 64 });
    agents.set(caPem, agent);
  }
  return agent;
}

/** The plain-HTTP pool, on the same idle rule as the HTTPS ones. */
const httpAgent = new HttpAgent({ keepAlive: true, timeout: idleConnectionMs, maxFreeSockets: 64 });

export function httpsFetch(url: string, options: HttpsFetchOptions): Promise<Response> {
  return apiExchange(url, options).then(responseOf);
}

/** A reply read whole, as a WHATWG `Response` (for callers that want one). */
export function responseOf({ status, contentType, body }: ApiExchange): Response {
  const headers = new Headers();
  if (contentType !== undefined) headers.set("content-type", contentType);
  return new Response(status === 204 || status === 304 ? null : body, { status, headers });
}

/** A reply read whole: its status, content type and body. */
export interface ApiExchange {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer<ArrayBuffer>;
}

/**
 * One request to a node API over `node:http`, or `node:https` trusting only `caPem` when given:
 * the reply read whole (bounded), without a WHATWG `Response`. A daemon asks its peers' APIs
 * all the time (the state relay's long polls); the global `fetch` and `Response` load undici
 * (~2 MB of heap, ~7 MB resident) and cost more CPU per request than `node:http`.
 */
export function apiExchange(
  url: string,
  options: Omit<HttpsFetchOptions, "caPem"> & { readonly caPem?: string | undefined },
): Promise<ApiExchange> {
  return new Promise((resolve, reject) => {
    const headers = {
      ...options.headers,
      ...(options.body === undefined ? {} : { "content-length": String(Buffer.byteLength(options.body)) }),
    };
    const onReply = (incoming: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > httpsReplyBytesMax) {
          incoming.destroy(new Error(`reply over ${httpsReplyBytesMax} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      incoming.on("error", reject);
      incoming.on("end", () => {
        const status = incoming.statusCode ?? 502;
        resolve({ status, contentType: incoming.headers["content-type"], body: Buffer.concat(chunks) });
      });
    };
    const outgoing =
      options.caPem === undefined
        ? httpRequest(
            url,
            { method: options.method, headers, agent: httpAgent, timeout: options.timeoutMs },
            onReply,
          )
        : httpsRequest(
            url,
            {
              method: options.method,
              headers,
              ca: options.caPem,
              rejectUnauthorized: true,
              // A name-blind request (the join) gets a connection of its own: a pooled one was
              // checked against the names, or is handed to requests that check them.
              agent: options.anyNameTheCaIssued === true ? false : agentFor(options.caPem),
              timeout: options.timeoutMs,
              ...(options.anyNameTheCaIssued === true
                ? { checkServerIdentity: (_host: string, _certificate: PeerCertificate) => undefined }
                : {}),
            },
            onReply,
          );
    const timer = setTimeout(
      () => outgoing.destroy(new Error(`no reply within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    outgoing.on("close", () => clearTimeout(timer));
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no reply within ${options.timeoutMs} ms`)));
    outgoing.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    outgoing.end(options.body);
  });
}
