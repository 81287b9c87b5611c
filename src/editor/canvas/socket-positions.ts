import type { BaseSchemes } from 'rete';
import { BaseSocketPosition } from 'rete-render-utils';

type Side = 'input' | 'output';
type Position = { x: number; y: number };

/** A socket's centre relative to its node's element (offsetLeft/Top up the offsetParent chain, as rete measures it). */
function centreIn(child: HTMLElement, node: HTMLElement): Position | null {
  if (!child.offsetParent) return null;
  let x = child.offsetLeft;
  let y = child.offsetTop;
  let el = child.offsetParent as HTMLElement | null;
  while (el && el !== node) {
    x += el.offsetLeft + el.clientLeft;
    y += el.offsetTop + el.clientTop;
    el = el.offsetParent as HTMLElement | null;
  }
  return { x: x + child.offsetWidth / 2, y: y + child.offsetHeight / 2 };
}

/**
 * rete's socket positions, measured in batches: every socket that asks in a frame is measured together, reads only,
 * before any wire is drawn. rete's own watcher measures each socket as it mounts, between the DOM writes of the
 * others, so a big graph's opening forced a layout per socket (over a thousand for 300 nodes). Sockets not laid
 * out yet (a hidden canvas) wait for a later frame.
 */
export class BatchedSocketPosition<Schemes extends BaseSchemes, K> extends BaseSocketPosition<Schemes, K> {
  private waiting: { nodeId: string; side: Side; element: HTMLElement; done: (p: Position | null) => void }[] = [];
  private scheduled = false;

  calculatePosition(nodeId: string, side: Side, _key: string, element: HTMLElement): Promise<Position | null> {
    return new Promise((done) => {
      this.waiting.push({ nodeId, side, element, done });
      this.schedule();
    });
  }

  private schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.measure());
  }

  private measure() {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = [];
    const results: [(p: Position | null) => void, Position | null][] = [];
    for (const w of batch) {
      const node = this.area?.nodeViews.get(w.nodeId)?.element;
      if (!node || !w.element.isConnected) {
        results.push([w.done, null]);
        continue;
      }
      const c = centreIn(w.element, node);
      // Not laid out yet: asked again next frame.
      if (!c) this.waiting.push(w);
      else results.push([w.done, { x: c.x + 12 * (w.side === 'input' ? -1 : 1), y: c.y }]);
    }
    if (this.waiting.length) this.schedule();
    // All reads are done: now the wires may be drawn.
    for (const [done, p] of results) done(p);
  }
}
