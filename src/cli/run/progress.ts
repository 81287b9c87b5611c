import type { SessionEvent } from '../../runtime/session';
import type { Io } from '../io';

const fmt = (x: number): string =>
  Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toPrecision(4);

/** A redrawn bar on a terminal; plain lines (about ten per run) otherwise, so logs stay readable. */
export function progressReporter(io: Io): (e: SessionEvent) => void {
  let lastLine = 0;
  return (e) => {
    if (e.type === 'status') {
      // On a terminal the line under the bar is cleared first.
      if (io.isTTY) process.stderr.write('\r\x1b[K');
      io.err(e.message);
      return;
    }
    if (e.type === 'tile') {
      // Steps on tiles take minutes: a terminal shows the tile being worked on, a log every quarter of the tiles.
      if (io.isTTY) process.stderr.write(`\r${e.phase} tile ${e.tile}/${e.tiles}\x1b[K`);
      else if (e.tile % Math.ceil(e.tiles / 4) === 0 || e.tile === e.tiles)
        io.err(`${e.phase}: tile ${e.tile}/${e.tiles}`);
      return;
    }
    if (e.type !== 'step') return;
    const text = `step ${e.step}/${e.total}  loss ${fmt(e.loss)}  ${e.ms.toFixed(0)} ms`;
    if (io.isTTY) {
      const width = 24;
      const filled = e.total ? Math.round((width * e.step) / e.total) : width;
      process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
      if (e.step >= e.total) process.stderr.write('\n');
      return;
    }
    const every = Math.max(1, Math.floor(e.total / 10));
    if (e.step === 0 || e.step === e.total || e.step - lastLine >= every) {
      lastLine = e.step;
      io.err(text);
    }
  };
}
