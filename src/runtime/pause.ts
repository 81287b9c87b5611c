/**
 * A pause gate for a run's step loop (the editor's Pause): the loop awaits `wait` between steps, which resolves at
 * once while the gate is open and, while it is held, on `resume` or when the run's stop signal aborts. Everything the
 * loop keeps (the image variable, Adam's moments, L-BFGS's history) simply stays where it is while it waits, so the
 * run goes on from the same step. Hosts that pass no gate (the CLI, queue workers) never wait.
 */
export class PauseGate {
  private held: { promise: Promise<void>; release: () => void } | null = null;

  /** Whether the gate is held: the loop stops at the next step it ends. */
  get paused(): boolean {
    return this.held !== null;
  }

  /** Holds the gate (again pausing an already paused gate changes nothing). */
  pause(): void {
    if (this.held) return;
    let release = () => {};
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { promise, release };
  }

  /** Opens the gate: a loop waiting at it goes on. */
  resume(): void {
    const held = this.held;
    this.held = null;
    held?.release();
  }

  /** Resolves when the gate is open, or as soon as `signal` aborts (Stop while paused stops). */
  async wait(signal?: AbortSignal): Promise<void> {
    while (this.held && !signal?.aborted) {
      const { promise } = this.held;
      if (!signal) {
        await promise;
        continue;
      }
      let onAbort = () => {};
      const aborted = new Promise<void>((resolve) => {
        onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await Promise.race([promise, aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    }
  }
}
