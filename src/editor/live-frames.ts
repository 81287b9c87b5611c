/**
 * The live camera's frame scheduler: at most one frame in flight to the worker, and frames that arrive while one
 * is in flight are dropped rather than queued. While busy it only remembers that a newer frame exists; when the
 * answer comes it sends again, grabbing the camera's picture at that moment, so the latest frame wins and the
 * output never lags behind a queue. Pure logic (no DOM), so it is tested in Node (tests/camera-live.test.ts).
 */
export interface LiveStats {
  /** Frames the camera offered since start. */
  offered: number;
  /** Frames sent to the worker. */
  sent: number;
  /** Answers received for sent frames. */
  done: number;
  /** Offered frames never sent: a newer one replaced them while the worker was busy, or sending was refused. */
  dropped: number;
}

export class FrameScheduler {
  /** The ticket of the frame in flight; 0 while a frame is being grabbed (no ticket yet); null when idle. */
  private flight: number | null = null;
  /** A frame arrived while one was in flight. */
  private pending = false;
  private running = false;
  private times: number[] = [];
  readonly stats: LiveStats = { offered: 0, sent: 0, done: 0, dropped: 0 };

  /**
   * `send` grabs the camera's current picture, posts it and returns its ticket, or null when it cannot send now
   * (a run the user started is going on, the graph cannot run live). `now` is a clock in milliseconds.
   * `window` is how many recent answers the frames-per-second figure averages over.
   */
  constructor(
    private readonly send: () => Promise<number | null>,
    private readonly now: () => number = () => performance.now(),
    private readonly window = 10,
  ) {}

  get active(): boolean {
    return this.running;
  }

  get busy(): boolean {
    return this.flight !== null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.times = [];
  }

  /** Stops sending; a frame in flight still completes (its answer is shown). */
  stop(): void {
    this.running = false;
    if (this.pending) this.stats.dropped++;
    this.pending = false;
  }

  /** The camera has a new frame. */
  offer(): void {
    if (!this.running) return;
    this.stats.offered++;
    if (this.flight !== null) {
      // Only the newest waiting frame counts: the one it replaces is dropped.
      if (this.pending) this.stats.dropped++;
      this.pending = true;
      return;
    }
    void this.dispatch();
  }

  private async dispatch(): Promise<void> {
    this.flight = 0;
    this.pending = false;
    this.early.clear();
    let ticket: number | null = null;
    try {
      ticket = await this.send();
    } catch {
      ticket = null;
    }
    if (ticket === null) {
      this.flight = null;
      this.stats.dropped++;
      return;
    }
    this.stats.sent++;
    // An answer that came back before send() resolved (a synchronous worker in a test) was kept for this ticket.
    if (this.early.delete(ticket)) this.finish();
    else this.flight = ticket;
  }

  private early = new Set<number>();

  /** The worker answered the frame with this ticket. Answers for other tickets (after a restart) are ignored. */
  complete(ticket: number): void {
    if (this.flight === 0) {
      this.early.add(ticket);
      return;
    }
    if (this.flight !== ticket) return;
    this.finish();
  }

  private finish(): void {
    this.flight = null;
    this.stats.done++;
    this.times.push(this.now());
    if (this.times.length > this.window) this.times.shift();
    if (this.running && this.pending) void this.dispatch();
  }

  /** Frames answered per second over the last few answers (0 until there are two). */
  get fps(): number {
    const t = this.times;
    if (t.length < 2) return 0;
    const span = t.at(-1)! - t[0]!;
    return span > 0 ? ((t.length - 1) * 1000) / span : 0;
  }
}
