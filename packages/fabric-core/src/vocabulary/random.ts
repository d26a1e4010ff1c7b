/**
 * A source of randomness injected into the cores (election jitter, probe targets), so a
 * seeded one makes a whole run reproducible.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, bound). */
  int(bound: number): number;
}
