import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import { checkGraph } from '../../compiler/check';
import type { Diagnostic } from '../../graph/diagnostics';
import { parseDocument, serialiseDocument, type ParseResult } from '../../graph/document';
import * as edit from '../../graph/edit';
import type { GraphEdge, GraphGroup, GraphModel } from '../../graph/model';
import { estimateHeight, layOut, modelEndpoint, viewGraph } from '../view';
import { boundsOf, freeSpot, nodeBoxes, NODE_WIDTH, type Size } from '../placement';
import type { SocketType } from '../../plugin/types';
import { checkpointShapes, modelLayers, packs, registry, registryVersion } from '../registry';
import { missingPacks, recordPacks } from '../../graph/packs';
import { useSettingsStore } from './settings';
import { getUpload, uploadsIn, type UploadRef } from '../../web/uploads';
import { unplaced } from '../../web/share-decode';

export const AUTOSAVE_KEY = 'stylegraph.autosave';
const HISTORY = 200;
/** Edits with the same merge key this close together are one undo step (dragging a slider). */
const MERGE_MS = 800;

export const emptyModel = (): GraphModel => ({ nodes: [], edges: [], metadata: { title: 'Untitled' }, extra: {} });

/**
 * The open graph: the GraphModel is the truth (the canvas only draws it), every edit goes through a pure
 * function of src/graph/edit.ts, and the undo history is the list of earlier models.
 */
export const useGraphStore = defineStore('graph', () => {
  const settings = useSettingsStore();
  const model = shallowRef<GraphModel>(emptyModel());
  const past = shallowRef<GraphModel[]>([]);
  const future = shallowRef<GraphModel[]>([]);
  const selection = ref<string[]>([]);
  const fileName = ref('untitled.json');
  /** The last thing the editor wants the user to know (a refused connection, a bad file). */
  const notice = ref<{ text: string; error: boolean; at: number } | null>(null);
  /** The type of the wire being dragged on the canvas, for the sockets to show whether they can take it. */
  const dragging = ref<{ type: SocketType; from: string } | null>(null);
  let clipboard: edit.Fragment | null = null;
  /** The drawn size of a node, from the canvas (placement falls back to estimates without it). */
  let measure: ((id: string) => Size | undefined) | undefined;
  /** Boxes taken on the canvas: nodes and their open previews. */
  const occupied = () => [...nodeBoxes(view.value, measure, settings.previewNodes).values()];
  let lastMerge = { key: '', at: 0 };

  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Shows a notice; news goes away by itself after a few seconds, errors stay until dismissed. */
  function tell(text: string, error = false) {
    const at = Date.now();
    notice.value = { text, error, at };
    clearTimeout(noticeTimer);
    if (!error) noticeTimer = setTimeout(() => notice.value?.at === at && (notice.value = null), 6000);
  }

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

  /** Replaces the graph (open, new, preset): no undo across it. */
  function load(next: GraphModel, name = 'untitled.json') {
    model.value = next;
    past.value = [];
    future.value = [];
    selection.value = [];
    fileName.value = name;
  }

  /**
   * Opens JSON text; a document that cannot be read leaves the current graph as it is. `from` names the file the
   * text came from in the notices when it is not `name` (a PNG with the graph embedded: "opened result.png").
   */
  function open(text: string, name: string, from = name): boolean {
    return openParsed(parseDocument(text), name, from);
  }

  /** Opens a document parsed elsewhere (a share link is decoded, parsed and laid out in a worker: web/share-worker.ts). */
  function openParsed(
    parsed: Pick<ParseResult, 'model' | 'diagnostics'>,
    name: string,
    from = name,
    laidOut = false,
  ): boolean {
    const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
    if (!parsed.model) {
      tell(`${from} was not opened: ${errors.map((d) => d.message).join('; ')}`, true);
      return false;
    }
    // Opening is one undo step: Undo brings the previous graph back. A document without a layout (every node at
    // the same place, as a hand-written or generated one) is arranged.
    commit(!laidOut && unplaced(parsed.model) ? layOut(parsed.model, registry) : parsed.model);
    selection.value = [];
    fileName.value = name;
    tell(
      errors.length ? `${from} opened with problems: ${errors.map((d) => d.message).join('; ')}` : `opened ${from}`,
      errors.length > 0,
    );
    return true;
  }

  // Selection may name group boxes (`group:<id>`); commands act on their members.
  const members = (ids: readonly string[]) =>
    ids.flatMap((id) =>
      id.startsWith('group:') ? (model.value.groups?.find((g) => `group:${g.id}` === id)?.nodes ?? []) : [id],
    );

  const commands = {
    /** Adds a node in the free space nearest to `position` (its top-left corner), never on top of another node. */
    add(type: string, position: { x: number; y: number }, params: Record<string, unknown> = {}) {
      const sized = edit.addNode(model.value, type, position, params);
      // The new node alone (it has no wires yet): its height, without drawing the whole graph again.
      const alone = sized.model.nodes.filter((n) => n.id === sized.id);
      const v = viewGraph({ ...sized.model, nodes: alone, edges: [], groups: [] }, registry).nodes[0];
      const size = { width: NODE_WIDTH, height: v ? estimateHeight(v) : 140 };
      const r = edit.addNode(model.value, type, freeSpot(occupied(), size, position), params);
      commit(r.model);
      selection.value = [r.id];
      return r.id;
    },
    /** Connects two view sockets; returns why not when refused. */
    connect(from: { node: string; socket: string }, to: { node: string; socket: string }): string | null {
      const r = edit.connect(
        model.value,
        registry,
        modelEndpoint(from.node, from.socket),
        modelEndpoint(to.node, to.socket),
      );
      if ('error' in r) {
        tell(`cannot connect: ${r.error}`, true);
        return r.error;
      }
      commit(r.model);
      return null;
    },
    disconnect(edge: GraphEdge) {
      commit(edit.disconnect(model.value, edge));
    },
    remove(ids: readonly string[] = selection.value) {
      const gone = members(ids);
      if (!gone.length) return;
      commit(edit.removeNodes(model.value, gone));
      selection.value = [];
    },
    setParam(nodeId: string, name: string, value: unknown) {
      commit(edit.setParam(model.value, nodeId, name, value), `${nodeId}.${name}`);
    },
    setTitle(nodeId: string, title: string) {
      const next = structuredClone(model.value);
      const node = next.nodes.find((n) => n.id === nodeId);
      if (!node) return;
      if (title) node.title = title;
      else delete node.title;
      commit(next, `${nodeId}.title`);
    },
    move(positions: Record<string, { x: number; y: number }>) {
      commit(edit.moveNodes(model.value, positions));
    },
    bypass(ids: readonly string[] = selection.value) {
      if (ids.length) commit(edit.toggleBypass(model.value, members(ids)));
    },
    copy(ids: readonly string[] = selection.value) {
      clipboard = edit.copyFragment(model.value, members(ids));
      return clipboard.nodes.length;
    },
    /**
     * Pastes the copied nodes with their wires: with their top-left corner at `at` (the pointer) or next to the
     * originals, moved as a block to the nearest free space.
     */
    paste(at?: { x: number; y: number }) {
      if (!clipboard?.nodes.length) return;
      const views = new Map(
        viewGraph({ ...model.value, nodes: clipboard.nodes, edges: clipboard.edges, groups: [] }, registry).nodes.map(
          (v) => [v.id, v],
        ),
      );
      const block = boundsOf(
        clipboard.nodes.map((n) => ({
          ...n.position,
          width: NODE_WIDTH,
          height: views.get(n.id) ? estimateHeight(views.get(n.id)!) : 140,
        })),
      );
      const want = at ?? { x: block.x + 40, y: block.y + 40 };
      const spot = freeSpot(occupied(), block, want);
      const r = edit.pasteFragment(model.value, clipboard, { x: spot.x - block.x, y: spot.y - block.y });
      commit(r.model);
      selection.value = r.ids;
      // The next paste lands a little further on.
      clipboard = edit.copyFragment(r.model, r.ids);
    },
    selectAll() {
      selection.value = viewGraph(model.value, registry).nodes.map((n) => n.id);
    },
    group(ids: readonly string[] = selection.value, title = 'Group') {
      const inner = members(ids);
      if (inner.length < 1) return;
      const r = edit.groupNodes(model.value, inner, title);
      commit(r.model);
      selection.value = [`group:${r.id}`];
    },
    updateGroup(id: string, change: Partial<Omit<GraphGroup, 'id' | 'nodes'>>) {
      commit(edit.updateGroup(model.value, id, change), `group.${id}`);
    },
    ungroup(id: string) {
      const g = model.value.groups?.find((x) => x.id === id);
      commit(edit.ungroup(model.value, id));
      selection.value = g?.nodes ?? [];
    },
    arrange() {
      commit(layOut(model.value, registry));
    },
    setMetadata(change: Partial<GraphModel['metadata']>) {
      commit({ ...model.value, metadata: { ...model.value.metadata, ...change } }, 'metadata');
    },
  };

  // registryVersion: installing or disabling a node pack changes what the model means.
  const view = computed(() => (registryVersion.value, viewGraph(model.value, registry)));
  const compiled = computed(() => {
    void registryVersion.value;
    const layers = modelLayers.value;
    const shapes = checkpointShapes.value;
    return checkGraph(model.value, registry, {
      size: settings.size,
      modelLayers: (source) => {
        const l = layers.get(source);
        return l instanceof Map ? l : undefined;
      },
      checkpointShapes: (name) => shapes.get(name),
    });
  });
  const missing = computed(() => (registryVersion.value, missingPacks(model.value, registry)));
  /** The document as saved, shared or exported: with the packs its nodes come from. */
  const documentModel = () => recordPacks(model.value, packs);
  const documentText = () => serialiseDocument(documentModel());
  /**
   * Images the graph refers to as dropped (`upload:`) that this browser does not have: a graph shared from another
   * browser without its images. Run waits until an image is dropped on each of these nodes.
   */
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
  const diagnostics = computed<Diagnostic[]>(() => [...compiled.value.diagnostics, ...uploadDiagnostics.value]);
  /** Problems the last run found that checking the graph cannot (an image that does not load): shown on their nodes until the next edit. */
  const runDiagnostics = ref<Diagnostic[]>([]);
  watch(model, () => (runDiagnostics.value = []));
  const diagnosticsByNode = computed(() => {
    const by = new Map<string, Diagnostic[]>();
    const seen = new Set(diagnostics.value.map((d) => d.message));
    for (const d of [...diagnostics.value, ...runDiagnostics.value.filter((r) => !seen.has(r.message))])
      if (d.nodeId) by.set(d.nodeId, [...(by.get(d.nodeId) ?? []), d]);
    return by;
  });
  /** Shapes of every value the plan computes, by `node.output`, for the edges' labels. */
  const shapes = computed(() => {
    const m = new Map<string, number[]>();
    for (const s of compiled.value.plan?.steps ?? []) for (const o of s.outputs) m.set(o.key, o.info.shape);
    return m;
  });

  // Autosave: the open graph survives a reload.
  let timer: ReturnType<typeof setTimeout> | undefined;
  watch(model, (m) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        localStorage.setItem(
          AUTOSAVE_KEY,
          JSON.stringify({ name: fileName.value, document: serialiseDocument(recordPacks(m, packs)) }),
        );
      } catch (e) {
        tell(`autosave failed: ${(e as Error).message}`, true);
      }
    }, 250);
  });

  return {
    model,
    selection,
    fileName,
    notice,
    dragging,
    past,
    future,
    view,
    compiled,
    missing,
    missingUploads,
    documentModel,
    documentText,
    diagnostics,
    runDiagnostics,
    diagnosticsByNode,
    shapes,
    canUndo: computed(() => past.value.length > 0),
    canRedo: computed(() => future.value.length > 0),
    tell,
    commit,
    undo,
    redo,
    load,
    open,
    openParsed,
    ...commands,
    setMeasure: (f: (id: string) => Size | undefined) => void (measure = f),
  };
});

/** The autosaved graph, if there is one that reads. */
export function recoverAutosave(): { model: GraphModel; name: string } | null {
  try {
    const saved = JSON.parse(localStorage.getItem(AUTOSAVE_KEY) ?? 'null') as {
      name?: string;
      document?: string;
    } | null;
    if (!saved?.document) return null;
    const parsed = parseDocument(saved.document);
    return parsed.model ? { model: parsed.model, name: saved.name ?? 'untitled.json' } : null;
  } catch {
    return null;
  }
}
