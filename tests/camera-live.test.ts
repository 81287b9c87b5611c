import { describe, expect, it } from 'vitest';
import { FrameScheduler } from '../src/editor/live-frames';

/** A fake worker: records what was sent; each send resolves at once with the next ticket. */
function rig(refuse = () => false) {
  let clock = 0;
  let ticket = 0;
  const sent: number[] = [];
  /** What the camera showed when each frame was grabbed (the latest frame, at send time). */
  let cameraFrame = 0;
  const grabbed: number[] = [];
  const s = new FrameScheduler(
    async () => {
      if (refuse()) return null;
      grabbed.push(cameraFrame);
      sent.push(++ticket);
      return ticket;
    },
    () => clock,
    4,
  );
  const flush = () => new Promise<void>((r) => setTimeout(r, 0));
  return {
    s,
    sent,
    grabbed,
    flush,
    /** The camera shows a new frame. */
    frame() {
      cameraFrame++;
      s.offer();
    },
    tick(ms: number) {
      clock += ms;
    },
  };
}

describe('live frame scheduler', () => {
  it('keeps at most one frame in flight and drops the frames that arrive meanwhile', async () => {
    const r = rig();
    r.s.start();
    r.frame();
    await r.flush();
    expect(r.sent).toEqual([1]);
    // Five camera frames while the worker is busy: nothing more is sent.
    for (let i = 0; i < 5; i++) r.frame();
    await r.flush();
    expect(r.sent).toEqual([1]);
    expect(r.s.busy).toBe(true);
    // The answer comes: exactly one more frame goes, grabbed now, so it is the newest (frame 6), not frame 2.
    r.s.complete(1);
    await r.flush();
    expect(r.sent).toEqual([1, 2]);
    expect(r.grabbed).toEqual([1, 6]);
    // Of frames 2..6, four were replaced by a newer one while waiting; the last one waiting was sent.
    expect(r.s.stats).toEqual({ offered: 6, sent: 2, done: 1, dropped: 4 });
  });

  it('sends nothing after an answer when no new frame arrived (never the same frame twice)', async () => {
    const r = rig();
    r.s.start();
    r.frame();
    await r.flush();
    r.s.complete(1);
    await r.flush();
    expect(r.sent).toEqual([1]);
    expect(r.s.busy).toBe(false);
    r.frame();
    await r.flush();
    expect(r.sent).toEqual([1, 2]);
  });

  it('ignores answers for other tickets and frames offered before start or after stop', async () => {
    const r = rig();
    r.frame();
    await r.flush();
    expect(r.sent).toEqual([]);
    r.s.start();
    r.frame();
    await r.flush();
    r.frame();
    r.s.complete(99);
    await r.flush();
    expect(r.sent).toEqual([1]);
    expect(r.s.busy).toBe(true);
    r.s.stop();
    r.s.complete(1);
    await r.flush();
    // Stopped: the frame that was waiting is dropped, not sent.
    expect(r.sent).toEqual([1]);
    expect(r.s.stats.dropped).toBe(1);
    r.frame();
    await r.flush();
    expect(r.sent).toEqual([1]);
  });

  it('drops a frame when sending is refused (a user run is going on) and tries again with the next one', async () => {
    let refusing = true;
    const r = rig(() => refusing);
    r.s.start();
    r.frame();
    await r.flush();
    expect(r.sent).toEqual([]);
    expect(r.s.busy).toBe(false);
    refusing = false;
    r.frame();
    await r.flush();
    expect(r.sent).toEqual([1]);
    expect(r.s.stats).toMatchObject({ offered: 2, sent: 1, dropped: 1 });
  });

  it('measures frames per second from the answers over a sliding window', async () => {
    const r = rig();
    r.s.start();
    expect(r.s.fps).toBe(0);
    // Answers every 100 ms: 10 fps.
    for (let i = 1; i <= 3; i++) {
      r.frame();
      await r.flush();
      r.tick(100);
      r.s.complete(i);
      await r.flush();
    }
    expect(r.s.fps).toBeCloseTo(10, 6);
    // Then slower, every 250 ms: the window (4 answers) forgets the fast ones: 3 gaps of 250 ms = 4 fps.
    for (let i = 4; i <= 7; i++) {
      r.frame();
      await r.flush();
      r.tick(250);
      r.s.complete(i);
      await r.flush();
    }
    expect(r.s.fps).toBeCloseTo(4, 6);
  });

  it('accepts an answer that arrives before the send resolved', async () => {
    let t = 0;
    const s: FrameScheduler = new FrameScheduler(async () => {
      const ticket = ++t;
      s.complete(ticket); // a worker that answered at once
      return ticket;
    });
    s.start();
    s.offer();
    await new Promise((r) => setTimeout(r, 0));
    expect(s.busy).toBe(false);
    expect(s.stats).toMatchObject({ sent: 1, done: 1 });
  });
});
