// Holds the current ConfigSnapshot and tells subscribers when a new one is published.

import type { ConfigSnapshot } from './config-snapshot';

export type SnapshotListener = (snapshot: ConfigSnapshot) => void;

/**
 * The latest complete config plus change notification. `current` is read once per request by the data plane;
 * `publish()` swaps it whole. Readiness (`/ready`) is `current !== undefined`: it never goes back to undefined,
 * so the sidecar stays ready while the xDS server is away.
 */
export class SnapshotStore {
  private snapshot: ConfigSnapshot | undefined;
  private readonly listeners = new Set<SnapshotListener>();
  private readonly waiters: Array<(snapshot: ConfigSnapshot) => void> = [];

  /** The snapshot in force; undefined until the first publish. */
  get current(): ConfigSnapshot | undefined {
    return this.snapshot;
  }

  /**
   * Makes `snapshot` current and calls every subscriber synchronously, in subscription order. Versions must
   * increase (a programming error throws). A subscriber that throws does not stop the others; the first error
   * is rethrown after all were called.
   */
  publish(snapshot: ConfigSnapshot): void {
    if (this.snapshot !== undefined && snapshot.version <= this.snapshot.version) {
      throw new Error(`snapshot version ${snapshot.version} is not newer than ${this.snapshot.version}`);
    }
    this.snapshot = snapshot;
    for (const resolve of this.waiters.splice(0)) resolve(snapshot);
    let firstError: unknown;
    let failed = false;
    for (const listener of [...this.listeners]) {
      try {
        listener(snapshot);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
    if (failed) throw firstError;
  }

  /** Calls `listener` on every later publish (not with the current snapshot). Returns the unsubscribe function. */
  subscribe(listener: SnapshotListener): () => void {
    const entry: SnapshotListener = (snapshot) => listener(snapshot);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Resolves with the current snapshot, or the first one published. */
  whenReady(): Promise<ConfigSnapshot> {
    if (this.snapshot !== undefined) return Promise.resolve(this.snapshot);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
