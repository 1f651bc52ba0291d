// Time source for background timers, injectable so unit tests run on fake time.

/** A handle returned by `Clock.setTimeout`; `cancel()` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Wall-clock and timer access. Production uses `systemClock`; tests pass a fake one.
 * Timers created through a clock are `unref()`ed: background work never keeps the process alive.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
