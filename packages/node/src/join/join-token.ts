import { createHash, randomInt, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/**
 * Bootstrap (join) tokens, kubeadm's shape: `<id>.<secret>`, 6 and 16 characters of
 * `[a-z0-9]` (about 82 bits of secret). The id names the token in `token list` and in the
 * log; the secret is shown once, when the token is created, and the cluster stores only its
 * SHA-256 (docs/join.md). A plain hash suffices: the secret is random and long, not a
 * password, so there is nothing to stretch.
 */
export interface JoinToken {
  readonly id: string;
  readonly secret: string;
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
const tokenPattern = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

export function generateJoinToken(): JoinToken {
  const pick = (count: number) =>
    Array.from({ length: count }, () => alphabet[randomInt(alphabet.length)]).join("");
  return { id: pick(6), secret: pick(16) };
}

/** The token, or null when the text is not `<6>.<16>` of `[a-z0-9]` (nothing of it is echoed). */
export function parseJoinToken(text: string): JoinToken | null {
  const match = tokenPattern.exec(text.trim());
  return match === null ? null : { id: match[1]!, secret: match[2]! };
}

export function formatJoinToken(token: JoinToken): string {
  return `${token.id}.${token.secret}`;
}

export function secretSha256(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, storedSha256: string): boolean {
  const presented = Buffer.from(secretSha256(secret), "hex");
  const stored = Buffer.from(storedSha256, "hex");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** `sha256:<64 hex>`, the form `revoada init` prints (kubeadm's --discovery-token-ca-cert-hash). */
export function parseCaHash(text: string): string | null {
  const normalized = text.trim().toLowerCase();
  return /^sha256:[0-9a-f]{64}$/.test(normalized) ? normalized : null;
}

/** `1h`, `30m`, `45s`, `2d` or a number of milliseconds; null when it is none of these. */
export function parseDurationMs(text: string): number | null {
  const match = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) return null;
  const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? "ms"] ?? 1;
  const value = Number(match[1]) * unitMs;
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * Whether a host is a loopback address or name: the only place the API may serve plain
 * HTTP or open reads (`api.plain_http`, `api.open_reads`).
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || bare.toLowerCase() === "0:0:0:0:0:0:0:1";
  return false;
}
