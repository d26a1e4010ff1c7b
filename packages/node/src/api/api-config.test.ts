// Goal: the API is HTTPS unless plain HTTP is asked for, and plain HTTP and open reads are
// refused anywhere but loopback; a TLS API needs the CA (and its key, or a certificate);
// the API certificate names the listen address and loopback; join tokens and CA hashes
// parse only in their exact forms. Method: the pure checks, on small configs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isLoopbackHost,
  parseCaHash,
  parseDurationMs,
  parseJoinToken,
  secretMatches,
  secretSha256,
} from "../join/join-token.js";
import { apiConfigIssues, apiUsesTls } from "./api-config.js";
import { apiCertificateNames } from "./api-tls.js";

const pki = { ca_cert_file: "ca.crt", ca_key_file: "ca.key" };
const paths = (
  listen: string,
  rest: Parameters<typeof apiConfigIssues>[0] extends infer C ? Partial<C> : never,
) => apiConfigIssues({ listen: { api: listen }, ...rest }).map((issue) => issue.path.join("."));

describe("api: section", () => {
  it("serves TLS by default, and needs the CA and its key (or a certificate) for it", () => {
    assert.equal(apiUsesTls({ listen: { api: "10.0.0.1:7943" } }), true);
    assert.deepEqual(paths("10.0.0.1:7943", { pki }), []);
    assert.deepEqual(paths("10.0.0.1:7943", {}), ["pki", "api.cert_file"]);
    assert.deepEqual(paths("10.0.0.1:7943", { pki: { ca_cert_file: "ca.crt" } }), ["api.cert_file"]);
    assert.deepEqual(
      paths("10.0.0.1:7943", {
        pki: { ca_cert_file: "ca.crt" },
        api: { cert_file: "a.crt", key_file: "a.key" },
      }),
      [],
    );
    assert.deepEqual(paths("10.0.0.1:7943", { pki, api: { cert_file: "a.crt" } }), ["api.key_file"]);
  });

  it("allows plain HTTP and open reads on loopback only", () => {
    const plain = { api: { plain_http: true, open_reads: true } };
    assert.deepEqual(paths("127.0.0.1:7943", plain), []);
    assert.deepEqual(paths("[::1]:7943", plain), []);
    assert.deepEqual(paths("localhost:7943", plain), []);
    assert.deepEqual(paths("10.77.0.2:7949", plain), ["api.plain_http", "api.open_reads"]);
    assert.deepEqual(paths("0.0.0.0:7943", { pki, api: { open_reads: true } }), ["api.open_reads"]);
    assert.equal(apiUsesTls({ listen: { api: "127.0.0.1:1" }, ...plain }), false);
  });

  it("names the listen address, loopback and localhost in the API certificate", () => {
    const names = apiCertificateNames("10.77.0.3:7949");
    assert.ok(names.ipAddresses.includes("10.77.0.3"));
    assert.ok(names.ipAddresses.includes("127.0.0.1"));
    assert.ok(names.dnsNames.includes("localhost"));
    assert.ok(apiCertificateNames("node-1.example:7949").dnsNames.includes("node-1.example"));
  });
});

describe("join token forms", () => {
  it("parses <6>.<16> of [a-z0-9] only, and matches the secret against its hash", () => {
    assert.deepEqual(parseJoinToken("abc123.0123456789abcdef"), { id: "abc123", secret: "0123456789abcdef" });
    for (const bad of ["abc123.0123456789abcde", "ABC123.0123456789abcdef", "abc123:0123456789abcdef", ""]) {
      assert.equal(parseJoinToken(bad), null, bad);
    }
    const hash = secretSha256("0123456789abcdef");
    assert.equal(secretMatches("0123456789abcdef", hash), true);
    assert.equal(secretMatches("0123456789abcdeg", hash), false);
  });

  it("parses sha256:<64 hex> CA hashes and durations", () => {
    assert.equal(parseCaHash(`SHA256:${"A".repeat(64)}`), `sha256:${"a".repeat(64)}`);
    assert.equal(parseCaHash(`sha256:${"a".repeat(63)}`), null);
    assert.equal(parseDurationMs("24h"), 86_400_000);
    assert.equal(parseDurationMs("1500"), 1500);
    assert.equal(parseDurationMs("1w"), null);
  });

  it("knows loopback hosts", () => {
    assert.equal(isLoopbackHost("127.0.0.53"), true);
    assert.equal(isLoopbackHost("::1"), true);
    assert.equal(isLoopbackHost("10.0.0.1"), false);
    assert.equal(isLoopbackHost("0.0.0.0"), false);
    assert.equal(isLoopbackHost("example.com"), false);
  });
});
