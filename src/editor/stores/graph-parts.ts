/**
 * The graph store's commands and watchers (stores/graph.ts) as plain functions over its state: edits, the
 * clipboard and groups, the check of the graph, missing uploads and autosave.
 */
import { computed, shallowRef, watch, type ComputedRef, type Ref, type ShallowRef } from 'vue';
import { checkGraph } from '../../compiler/check';
import type { Diagnostic } from '../../graph/diagnostics';
import { serialiseDocument, type ParseResult } from '../../graph/document';
import { unplaced } from '../../web/share-decode';
import * as edit from '../../graph/edit';
import type { GraphEdge, GraphGroup, GraphModel } from '../../graph/model';
import { recordPacks } from '../../graph/packs';
import { getUpload, uploadsIn, type UploadRef } from '../../web/uploads';
import { boundsOf, freeSpot, NODE_WIDTH, type Box } from '../placement';
import { checkpointShapes, modelLayers, packs, registry, registryVersion } from '../registry';
import { estimateHeight, layOut, modelEndpoint, viewGraph } from '../view';

/** What the commands need of the graph store. */
export interface GraphCore {
  model: ShallowRef<GraphModel>;
  selection: Ref<string[]>;
  commit: (next: GraphModel, mergeKey?: string) => void;
  tell: (text: string, error?: boolean) => void;
  /** Boxes taken on the canvas: nodes and their open previews. */
  occupied: () => Box[];
  /** The nodes a selection names (a group box `group:<id>` names its members). */
  members: (ids: readonly string[]) => string[];
}

/** Adding, wiring, removing, parameters, titles, moves and bypass. */
export function editCommands(g: GraphCore) {
  return {
    /** Adds a node in the free space nearest to `position` (its top-left corner), never on top of another node. */
    add(type: string, position: { x: number; y: number }, params: Record<string, unknown> = {}) {
      const sized = edit.addNode(g.model.value, type, position, params);
      // The new node alone (it has no wires yet): its height, without drawing the whole graph again.
      const alone = sized.model.nodes.filter((n) => n.id === sized.id);
      const v = viewGraph({ ...sized.model, nodes: alone, edges: [], groups: [] }, registry).nodes[0];
      const size = { width: NODE_WIDTH, height: v ? estimateHeight(v) : 140 };
      const r = edit.addNode(g.model.value, type, freeSpot(g.occupied(), size, position), params);
      g.commit(r.model);
      g.selection.value = [r.id];
      return r.id;
    },
    /** Connects two view sockets; returns why not when refused. */
    connect(from: { node: string; socket: string }, to: { node: string; socket: string }): string | null {
      const r = edit.connect(
        g.model.value,
        registry,
        modelEndpoint(from.node, from.socket),
        modelEndpoint(to.node, to.socket),
      );
      if ('error' in r) {
        g.tell(`cannot connect: ${r.error}`, true);
        return r.error;
      }
      g.commit(r.model);
      return null;
    },
    disconnect(edge: GraphEdge) {
      g.commit(edit.disconnect(g.model.value, edge));
    },
    remove(ids: readonly string[] = g.selection.value) {
      const gone = g.members(ids);
      if (!gone.length) return;
      g.commit(edit.removeNodes(g.model.value, gone));
      g.selection.value = [];
    },
    setParam(nodeId: string, name: string, value: unknown) {
      g.commit(edit.setParam(g.model.value, nodeId, name, value), `${nodeId}.${name}`);
    },
    setTitle(nodeId: string, title: string) {
      const next = structuredClone(g.model.value);
      const node = next.nodes.find((n) => n.id === nodeId);
      if (!node) return;
      if (title) node.title = title;
      else delete node.title;
      g.commit(next, `${nodeId}.title`);
    },
    move(positions: Record<string, { x: number; y: number }>) {
      g.commit(edit.moveNodes(g.model.value, positions));
    },
    bypass(ids: readonly string[] = g.selection.value) {
      if (ids.length) g.commit(edit.toggleBypass(g.model.value, g.members(ids)));
    },
  };
}

/** Copy and paste, select all, groups, arrange and the document's metadata. */
export function arrangeCommands(g: GraphCore) {
  const clip: { current: edit.Fragment | null } = { current: null };
  return {
    copy(ids: readonly string[] = g.selection.value) {
      clip.current = edit.copyFragment(g.model.value, g.members(ids));
      return clip.current.nodes.length;
    },
    /**
     * Pastes the copied nodes with their wires: with their top-left corner at `at` (the pointer) or next to the
     * originals, moved as a block to the nearest free space.
     */
    paste(at?: { x: number; y: number }) {
      if (!clip.current?.nodes.length) return;
      const views = new Map(
        viewGraph(
          { ...g.model.value, nodes: clip.current.nodes, edges: clip.current.edges, groups: [] },
          registry,
        ).nodes.map((v) => [v.id, v]),
      );
      const block = boundsOf(
        clip.current.nodes.map((n) => ({
          ...n.position,
          width: NODE_WIDTH,
          height: views.get(n.id) ? estimateHeight(views.get(n.id)!) : 140,
        })),
      );
      const want = at ?? { x: block.x + 40, y: block.y + 40 };
      const spot = freeSpot(g.occupied(), block, want);
      const r = edit.pasteFragment(g.model.value, clip.current, { x: spot.x - block.x, y: spot.y - block.y });
      g.commit(r.model);
      g.selection.value = r.ids;
      // The next paste lands a little further on.
      clip.current = edit.copyFragment(r.model, r.ids);
    },
    selectAll() {
      g.selection.value = viewGraph(g.model.value, registry).nodes.map((n) => n.id);
    },
    group(ids: readonly string[] = g.selection.value, title = 'Group') {
      const inner = g.members(ids);
      if (inner.length < 1) return;
      const r = edit.groupNodes(g.model.value, inner, title);
      g.commit(r.model);
      g.selection.value = [`group:${r.id}`];
    },
    updateGroup(id: string, change: Partial<Omit<GraphGroup, 'id' | 'nodes'>>) {
      g.commit(edit.updateGroup(g.model.value, id, change), `group.${id}`);
    },
    ungroup(id: string) {
      const group = g.model.value.groups?.find((x) => x.id === id);
      g.commit(edit.ungroup(g.model.value, id));
      g.selection.value = group?.nodes ?? [];
    },
    arrange() {
      g.commit(layOut(g.model.value, registry));
    },
    setMetadata(change: Partial<GraphModel['metadata']>) {
      g.commit({ ...g.model.value, metadata: { ...g.model.value.metadata, ...change } }, 'metadata');
    },
  };
}

/** The graph checked at the editor's size against the loaded models and checkpoints (again when packs change). */
export function checkedGraph(model: ShallowRef<GraphModel>, size: () => number) {
  return computed(() => {
    void registryVersion.value;
    const layers = modelLayers.value;
    const shapes = checkpointShapes.value;
    return checkGraph(model.value, registry, {
      size: size(),
      modelLayers: (source) => {
        const l = layers.get(source);
        return l instanceof Map ? l : undefined;
      },
      checkpointShapes: (name) => shapes.get(name),
    });
  });
}

/**
 * Images the graph refers to as dropped (`upload:`) that this browser does not have: a graph shared from another
 * browser without its images. Run waits until an image is dropped on each of these nodes.
 */
export function watchUploads(model: ShallowRef<GraphModel>): {
  missingUploads: ShallowRef<UploadRef[]>;
  uploadDiagnostics: ComputedRef<Diagnostic[]>;
} {
  const missingUploads = shallowRef<UploadRef[]>([]);
  let uploadCheck = 0;
  const present = new Set<string>();
  watch(
    model,
    async (m) => {
      const check = ++uploadCheck;
      const missing: UploadRef[] = [];
      for (const r of uploadsIn(m)) {
        // Uploads are named by their bytes' hash and never removed: one found once need not be read again.
        if (present.has(r.source)) continue;
        const bytes = await getUpload(r.source).catch(() => null);
        if (bytes === undefined) missing.push(r);
        else if (bytes) present.add(r.source);
      }
      if (check === uploadCheck) missingUploads.value = missing;
    },
    { immediate: true },
  );
  const uploadDiagnostics = computed<Diagnostic[]>(() =>
    missingUploads.value.map((u) => ({
      severity: 'error',
      code: 'source',
      nodeId: u.nodeId,
      path: `$.nodes[${model.value.nodes.findIndex((n) => n.id === u.nodeId)}].params.${u.param}`,
      message: `"${u.label}" needs an image: ${u.file} was dropped in the browser this graph comes from and is not in this one; drop an image on the node`,
    })),
  );
  return { missingUploads, uploadDiagnostics };
}

/** Autosave: the open graph survives a reload (under `key`, a quarter of a second after the last edit). */
export function autosave(key: string, model: ShallowRef<GraphModel>, fileName: Ref<string>, tell: GraphCore['tell']) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  watch(model, (m) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        localStorage.setItem(
          key,
          JSON.stringify({ name: fileName.value, document: serialiseDocument(recordPacks(m, packs)) }),
        );
      } catch (e) {
        tell(`autosave failed: ${(e as Error).message}`, true);
      }
    }, 250);
  });
}

/** The diagnostics shown on each node: the check's, then the last run's that the check does not repeat. */
export function byNode(diagnostics: ComputedRef<Diagnostic[]>, runDiagnostics: Ref<Diagnostic[]>) {
  return computed(() => {
    const by = new Map<string, Diagnostic[]>();
    const seen = new Set(diagnostics.value.map((d) => d.message));
    for (const d of [...diagnostics.value, ...runDiagnostics.value.filter((r) => !seen.has(r.message))])
      if (d.nodeId) by.set(d.nodeId, [...(by.get(d.nodeId) ?? []), d]);
    return by;
  });
}

const HISTORY = 200;
/** Edits with the same merge key this close together are one undo step (dragging a slider). */
const MERGE_MS = 800;

/** The undo history: earlier and later models, and commit (merging quick edits with the same key), undo and redo. */
export function undoHistory(model: ShallowRef<GraphModel>, selection: Ref<string[]>) {
  const past = shallowRef<GraphModel[]>([]);
  const future = shallowRef<GraphModel[]>([]);
  let lastMerge = { key: '', at: 0 };
  function commit(next: GraphModel, mergeKey?: string) {
    if (next === model.value) return;
    const now = Date.now();
    const merge = mergeKey !== undefined && mergeKey === lastMerge.key && now - lastMerge.at < MERGE_MS;
    lastMerge = { key: mergeKey ?? '', at: now };
    if (!merge) past.value = [...past.value.slice(-HISTORY + 1), model.value];
    future.value = [];
    model.value = next;
  }

  function undo() {
    const prev = past.value.at(-1);
    if (!prev) return;
    future.value = [model.value, ...future.value];
    past.value = past.value.slice(0, -1);
    model.value = prev;
    lastMerge = { key: '', at: 0 };
    keepSelection();
  }

  function redo() {
    const next = future.value[0];
    if (!next) return;
    past.value = [...past.value, model.value];
    future.value = future.value.slice(1);
    model.value = next;
    keepSelection();
  }

  const keepSelection = () =>
    (selection.value = selection.value.filter(
      (id) => model.value.nodes.some((n) => n.id === id) || id.startsWith('group:'),
    ));
  return { past, future, commit, undo, redo };
}

/**
 * Opens a parsed document as one undo step (Undo brings the previous graph back); one that cannot be read leaves the
 * graph as it is. `from` names the file in the notices.
 */
export function openDocument(
  g: GraphCore,
  fileName: Ref<string>,
  parsed: Pick<ParseResult, 'model' | 'diagnostics'>,
  { name, from, laidOut }: { name: string; from: string; laidOut: boolean },
): boolean {
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (!parsed.model) {
    g.tell(`${from} was not opened: ${errors.map((d) => d.message).join('; ')}`, true);
    return false;
  }
  // Opening is one undo step: Undo brings the previous graph back. A document without a layout (every node at
  // the same place, as a hand-written or generated one) is arranged.
  g.commit(!laidOut && unplaced(parsed.model) ? layOut(parsed.model, registry) : parsed.model);
  g.selection.value = [];
  fileName.value = name;
  g.tell(
    errors.length ? `${from} opened with problems: ${errors.map((d) => d.message).join('; ')}` : `opened ${from}`,
    errors.length > 0,
  );
  return true;
}
