// Exponential reconnect backoff with jitter (gRPC connection-backoff: 1 s, x1.6, +-20 %, 120 s cap).

export interface BackoffOptions {
  readonly initialMs?: number;
  readonly multiplier?: number;
  readonly jitter?: number;
  readonly maxMs?: number;
  /** Uniform [0, 1); injectable for deterministic tests. */
  readonly random?: () => number;
}

/**
 * Produces successive delays: initial, initial*1.6, ... capped at max, each spread by +-jitter.
 * `reset()` starts over (called when the server answers, per gRPC A57).
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private currentMs: number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 1000;
    this.multiplier = options.multiplier ?? 1.6;
    this.jitter = options.jitter ?? 0.2;
    this.maxMs = options.maxMs ?? 120_000;
    this.random = options.random ?? Math.random;
    this.currentMs = this.initialMs;
  }

  /** The next delay to wait, in milliseconds. */
  next(): number {
    const base = this.currentMs;
    this.currentMs = Math.min(this.currentMs * this.multiplier, this.maxMs);
    const spread = base * this.jitter * (this.random() * 2 - 1);
    return Math.max(0, Math.round(base + spread));
  }

  reset(): void {
    this.currentMs = this.initialMs;
  }
}
