import { request } from "node:https";
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

export function httpsFetch(url: string, options: HttpsFetchOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: options.method,
        headers: {
          ...options.headers,
          ...(options.body === undefined
            ? {}
            : { "content-length": String(Buffer.byteLength(options.body)) }),
        },
        ca: options.caPem,
        rejectUnauthorized: true,
        agent: false,
        timeout: options.timeoutMs,
        ...(options.anyNameTheCaIssued === true
          ? { checkServerIdentity: (_host: string, _certificate: PeerCertificate) => undefined }
          : {}),
      },
      (incoming) => {
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
          const headers = new Headers();
          const type = incoming.headers["content-type"];
          if (type !== undefined) headers.set("content-type", type);
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, headers }));
        });
      },
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
