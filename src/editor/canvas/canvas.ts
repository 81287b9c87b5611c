import type { Pinia } from 'pinia';
import { NodeEditor, type GetSchemes } from 'rete';
import { AreaExtensions, AreaPlugin } from 'rete-area-plugin';
import { ConnectionPlugin, Presets as ConnectionPresets } from 'rete-connection-plugin';
import { MinimapPlugin, type MinimapExtra } from 'rete-minimap-plugin';
import { Presets, VuePlugin, type VueArea2D } from 'rete-vue-plugin';
import { createApp } from 'vue';
import { estimateHeight, modelEndpoint, type ViewEdge, type ViewGraph, type ViewNode } from '../view';
import { pathEnds, placeView, type Box } from '../first-view';
import type { useGraphStore } from '../stores/graph';
import ConnectionView from './ConnectionView.vue';
import { CanvasConnection, CanvasNode } from './elements';
import NodeView from './NodeView.vue';
import SocketView from './SocketView.vue';
import { BatchedSocketPosition } from './socket-positions';
import type { MenuAction, MenuRequest } from './menu';

/** The smallest zoom the first view (and opening a graph) fits at: text stays readable; the rest is a pan away. */
export const READABLE_ZOOM = 0.75;

/** The minimap's height and its width over height (it floats over the canvas's bottom-left corner, so it is kept small). */
const MINIMAP = { size: 120, ratio: 1.4 };

/** A sync that adds at least this many nodes draws them hidden and shows them at once. */
const BULK_NODES = 40;
/** A bulk sync gives the page its thread back after this many nodes or connections (a big shared graph keeps the page responsive). */
const BULK_CHUNK = 16;
const yieldToPage = () => new Promise<void>((r) => setTimeout(r, 0));

type Schemes = GetSchemes<CanvasNode, CanvasConnection>;
type AreaExtra = VueArea2D<Schemes> | MinimapExtra;
type GraphStore = ReturnType<typeof useGraphStore>;

/** The model's edge for a wire on the canvas (group boxes name their members in socket keys). */
function modelEdge(edge: ViewEdge) {
  const from = modelEndpoint(edge.from.node, edge.from.socket);
  const to = modelEndpoint(edge.to.node, edge.to.socket);
  return { from: { node: from.node, output: from.socket }, to: { node: to.node, input: to.socket } };
}

const socketsKey = (v: ViewNode) => JSON.stringify([v.title, v.inputs, v.outputs]);

/**
 * The minimap redraws itself (measuring the container, scaling every node box) on every node drawn, moved or
 * panned: opening a big graph would redraw it hundreds of times. This makes it redraw at most once a frame.
 */
function drawAtMostOncePerFrame(minimap: MinimapPlugin<Schemes>): void {
  const drawMinimap = minimap as unknown as { render(): void };
  const redraw = drawMinimap.render.bind(minimap);
  let due = false;
  let first = true;
  drawMinimap.render = () => {
    if (due) return;
    due = true;
    requestAnimationFrame(() => {
      due = false;
      redraw();
      // Its first drawing scales the boxes by a container not mounted yet (all at one point): draw it once more.
      if (first) {
        first = false;
        requestAnimationFrame(redraw);
      }
    });
  };
}

/**
 * rete at the edge: draws the store's ViewGraph and turns what the user does on the canvas (drag a wire, move
 * nodes, pick, right-click) into store commands. It never edits the graph itself: the store changes, and `sync`
 * brings the canvas up to date, so undo, autosave and validation see every change.
 */
export class Canvas {
  readonly editor = new NodeEditor<Schemes>();
  readonly area: AreaPlugin<Schemes, AreaExtra>;
  private syncing = false;
  private picked = false;
  private moving = false;
  private modifier = false;
  private attempted = false;
  private drawn = new Map<string, string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    container: HTMLElement,
    private graph: GraphStore,
    pinia: Pinia,
    private onMenu: (request: MenuRequest) => void = () => {},
  ) {
    this.area = new AreaPlugin<Schemes, AreaExtra>(container);
    const connection = new ConnectionPlugin<Schemes, AreaExtra>();
    const render = new VuePlugin<Schemes, AreaExtra>({ setup: (context) => createApp(context).use(pinia) });
    const minimap = new MinimapPlugin<Schemes>({ ratio: MINIMAP.ratio });
    drawAtMostOncePerFrame(minimap);
    render.addPreset(
      Presets.classic.setup({
        customize: { node: () => NodeView, socket: () => SocketView, connection: () => ConnectionView },
        socketPositionWatcher: new BatchedSocketPosition<Schemes, AreaExtra>(),
      }),
    );
    render.addPreset(Presets.minimap.setup({ size: MINIMAP.size }));
    connection.addPreset(ConnectionPresets.classic.setup());
    this.showWireTypes(connection);
    this.editor.use(this.area);
    this.area.use(connection);
    this.area.use(render);
    this.area.use(minimap);
    AreaExtensions.simpleNodesOrder(this.area);

    this.commandWires();
    this.followPointer();

    window.addEventListener('keydown', this.keys);
    window.addEventListener('keyup', this.keys);
    // Placing new nodes uses the sizes the canvas draws (open previews included).
    graph.setMeasure((id) => {
      const el = this.area.nodeViews.get(id)?.element.firstElementChild as HTMLElement | null | undefined;
      return el?.offsetWidth ? { width: el.offsetWidth, height: el.offsetHeight } : undefined;
    });
  }

  /** While a wire is dragged, sockets of another type say they cannot take it (the drop is refused with the reason). */
  private showWireTypes(connection: ConnectionPlugin<Schemes, AreaExtra>): void {
    connection.addPipe((c) => {
      if (c.type === 'connectionpick') {
        const { nodeId, side, key } = c.data.socket;
        const v = this.editor.getNode(nodeId)?.view;
        const s = (side === 'input' ? v?.inputs : v?.outputs)?.find((x) => x.key === key);
        this.graph.dragging = s?.type ? { type: s.type, from: `${nodeId}.${key}` } : null;
      } else if (c.type === 'connectiondrop') this.graph.dragging = null;
      return c;
    });
  }

  /**
   * Wires drawn by hand become store commands; the store checks types and cycles and says why it refuses.
   * Dropping a wire on an occupied input makes rete remove the old wire first: whether that removal stands
   * is decided once the drop is over (a refused replacement redraws the store's graph, old wire included).
   */
  private commandWires(): void {
    this.editor.addPipe((c) => {
      if (this.syncing) return c;
      if (c.type === 'connectioncreate') {
        this.attempted = true;
        const { source, sourceOutput, target, targetInput } = c.data;
        this.graph.connect({ node: source, socket: sourceOutput }, { node: target, socket: targetInput });
        return undefined;
      }
      if (c.type === 'connectionremove') {
        const edge = (c.data as CanvasConnection).edge;
        this.attempted = false;
        setTimeout(() => {
          if (this.attempted) void this.sync(this.graph.view);
          else if (edge) this.graph.disconnect(modelEdge(edge));
        }, 0);
        return c;
      }
      return c;
    });
  }

  /** The canvas's pointer events: the app's right-click menu, picking nodes, and moving the selection together. */
  private followPointer(): void {
    this.area.addPipe((c) => {
      if (c.type === 'contextmenu') {
        // The right-click menu is the app's own (CanvasMenu.vue): node types with search, or a node's actions.
        const { event, context } = c.data;
        event.preventDefault();
        event.stopPropagation();
        this.onMenu(this.menu(context as 'root' | CanvasNode | CanvasConnection, event));
        return c;
      }
      if (c.type === 'nodepicked') {
        this.picked = true;
        const id = c.data.id;
        const sel = this.graph.selection;
        if (this.modifier) this.graph.selection = sel.includes(id) ? sel.filter((x) => x !== id) : [...sel, id];
        else if (!sel.includes(id)) this.graph.selection = [id];
      } else if (c.type === 'pointerdown') {
        if (
          !this.picked &&
          !this.modifier &&
          (c.data.event.target as HTMLElement | null)?.closest?.('.sg-node') == null
        )
          this.graph.selection = [];
        this.picked = false;
      } else if (c.type === 'nodetranslated' && !this.syncing && !this.moving) {
        // Moving one selected node moves the whole selection with it.
        const { id, position, previous } = c.data;
        if (this.graph.selection.includes(id)) {
          const dx = position.x - previous.x;
          const dy = position.y - previous.y;
          this.moving = true;
          const others = this.graph.selection.filter((x) => x !== id);
          void Promise.all(
            others.map((o) => {
              const v = this.area.nodeViews.get(o);
              return v ? this.area.translate(o, { x: v.position.x + dx, y: v.position.y + dy }) : undefined;
            }),
          ).finally(() => (this.moving = false));
        }
      } else if (c.type === 'nodedragged' && !this.syncing) this.commitPositions();
      return c;
    });
  }

  /** Shift, Ctrl or Cmd held: a click adds to the selection instead of replacing it. */
  private keys = (e: KeyboardEvent) => (this.modifier = e.shiftKey || e.ctrlKey || e.metaKey);

  /** Node positions after a drag, into the store as one undo step (a group box moves its members). */
  private commitPositions() {
    const positions: Record<string, { x: number; y: number }> = {};
    for (const node of this.editor.getNodes()) {
      const at = this.area.nodeViews.get(node.id)?.position;
      if (!at) continue;
      const was = node.view.position;
      if (at.x === was.x && at.y === was.y) continue;
      if (node.view.kind === 'group') {
        for (const m of node.view.members ?? []) {
          const p = this.graph.model.nodes.find((n) => n.id === m)!.position;
          positions[m] = { x: p.x + at.x - was.x, y: p.y + at.y - was.y };
        }
      } else positions[node.id] = { x: at.x, y: at.y };
    }
    if (Object.keys(positions).length) this.graph.move(positions);
  }

  /** Brings the canvas to the view graph; calls queue so a burst of edits is applied in order. */
  sync(view: ViewGraph): Promise<void> {
    this.queue = this.queue
      .then(() => this.apply(view))
      .catch((e: unknown) => this.graph.tell(`canvas: ${(e as Error).message}`, true));
    return this.queue;
  }

  private async apply(view: ViewGraph) {
    this.syncing = true;
    // Many new nodes at once (opening a big graph): they are drawn into a hidden layer, so the browser lays the
    // canvas out once when it shows instead of once per node and socket (rete measures each socket as it mounts).
    const holder = this.area.area.content.holder;
    const bulk = view.nodes.reduce((n, v) => n + (this.editor.getNode(v.id) ? 0 : 1), 0) >= BULK_NODES;
    if (bulk) holder.style.display = 'none';
    let added = 0;
    const breathe = async () => {
      if (bulk && ++added % BULK_CHUNK === 0) await yieldToPage();
    };
    try {
      const want = new Map(view.nodes.map((n) => [n.id, n]));
      const stale = new Set(
        [...this.drawn].filter(([id, key]) => !want.has(id) || socketsKey(want.get(id)!) !== key).map(([id]) => id),
      );
      const edges = new Map(view.edges.map((e) => [e.id, e]));
      for (const c of this.editor.getConnections())
        if (!edges.has(c.id) || stale.has(c.source) || stale.has(c.target)) await this.editor.removeConnection(c.id);
      for (const id of stale) {
        await this.editor.removeNode(id);
        this.drawn.delete(id);
      }
      for (const v of view.nodes) {
        let node = this.editor.getNode(v.id);
        if (!node) {
          node = new CanvasNode(v);
          await this.editor.addNode(node);
          this.drawn.set(v.id, socketsKey(v));
          await breathe();
        }
        node.view = v;
        const at = this.area.nodeViews.get(v.id)?.position;
        if (at && (at.x !== v.position.x || at.y !== v.position.y)) await this.area.translate(v.id, v.position);
      }
      for (const e of view.edges) {
        if (this.editor.getConnection(e.id)) continue;
        const a = this.editor.getNode(e.from.node);
        const b = this.editor.getNode(e.to.node);
        if (a && b) {
          await this.editor.addConnection(new CanvasConnection(a, e, b));
          await breathe();
        }
      }
    } finally {
      if (bulk) holder.style.display = '';
      this.syncing = false;
    }
  }

  /**
   * Fits the graph in the view (src/editor/first-view.ts); with `floor`, never below that zoom: a graph too large to
   * fit readably shows its inputs and outputs at the floor, and the rest pans. Nothing it must show lies under the
   * minimap.
   */
  async fit(floor = 0) {
    const nodes = this.editor.getNodes();
    if (!nodes.length) return;
    const boxes: Record<string, Box> = {};
    const views = new Map(this.graph.view.nodes.map((v) => [v.id, v]));
    for (const n of nodes) {
      const v = this.area.nodeViews.get(n.id);
      const el = v?.element.firstElementChild as HTMLElement | null | undefined;
      const drawn = el?.offsetHeight ?? 140;
      // An image node grows by its thumbnail once the picture has loaded: at least as tall as the estimate says.
      const view = views.get(n.id);
      if (v)
        boxes[n.id] = {
          x: v.position.x,
          y: v.position.y,
          width: el?.offsetWidth ?? 220,
          height: view?.picture ? Math.max(drawn, estimateHeight(view)) : drawn,
        };
    }
    const rect = this.area.container.getBoundingClientRect();
    // The minimap is drawn a frame later: where it will be (24 px from the bottom left: style.css).
    const minimap = { width: MINIMAP.size * MINIMAP.ratio, height: MINIMAP.size };
    const obstacles = [{ x: 24, y: rect.height - 24 - minimap.height, ...minimap }];
    const at = placeView(boxes, pathEnds(this.graph.view), rect, obstacles, floor);
    await this.area.area.zoom(at.k, 0, 0);
    await this.area.area.translate(at.x, at.y);
  }

  /** A point on the canvas (in graph coordinates) for a client position. */
  toGraph(clientX: number, clientY: number) {
    const rect = this.area.container.getBoundingClientRect();
    const { x, y, k } = this.area.area.transform;
    return { x: (clientX - rect.left - x) / k, y: (clientY - rect.top - y) / k };
  }

  private menu(context: 'root' | CanvasNode | CanvasConnection, event: MouseEvent): MenuRequest {
    const g = this.graph;
    const where = { clientX: event.clientX, clientY: event.clientY };
    if (context === 'root') {
      const at = this.toGraph(event.clientX, event.clientY);
      return {
        ...where,
        add: (type) => g.add(type, { x: Math.round(at.x), y: Math.round(at.y) }),
        actions: [{ label: 'Arrange', key: 'arrange', run: () => g.arrange() }],
      };
    }
    if (context instanceof CanvasConnection)
      return {
        ...where,
        actions: [{ label: 'Delete connection', key: 'delete', run: () => g.disconnect(modelEdge(context.edge)) }],
      };
    const ids = g.selection.includes(context.id) ? g.selection : [context.id];
    const group = context.view.kind === 'group' ? context.id.slice('group:'.length) : null;
    const actions: MenuAction[] = [
      { label: 'Delete', key: 'delete', run: () => g.remove(ids) },
      { label: 'Bypass on/off', key: 'bypass', run: () => g.bypass(ids) },
      { label: 'Duplicate', key: 'duplicate', run: () => (g.copy(ids), g.paste()) },
      group
        ? { label: 'Expand group', key: 'expand', run: () => g.updateGroup(group, { collapsed: false }) }
        : { label: 'Group selection', key: 'group', run: () => g.group(ids) },
    ];
    return { ...where, actions };
  }

  destroy() {
    window.removeEventListener('keydown', this.keys);
    window.removeEventListener('keyup', this.keys);
    this.area.destroy();
  }
}
