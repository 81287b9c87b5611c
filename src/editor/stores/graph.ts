import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { Diagnostic } from '../../graph/diagnostics';
import { parseDocument, serialiseDocument, type ParseResult } from '../../graph/document';
import type { GraphModel } from '../../graph/model';
import { viewGraph } from '../view';
import { nodeBoxes, type Size } from '../placement';
import type { SocketType } from '../../plugin/types';
import { packs, registry, registryVersion } from '../registry';
import { missingPacks, recordPacks } from '../../graph/packs';
import { useSettingsStore } from './settings';
import {
  arrangeCommands,
  autosave,
  byNode,
  checkedGraph,
  editCommands,
  undoHistory,
  openDocument,
  watchUploads,
  type GraphCore,
} from './graph-parts';

export const AUTOSAVE_KEY = 'stylegraph.autosave';

export const emptyModel = (): GraphModel => ({ nodes: [], edges: [], metadata: { title: 'Untitled' }, extra: {} });

/**
 * The open graph: the GraphModel is the truth (the canvas only draws it), every edit goes through a pure
 * function of src/graph/edit.ts, and the undo history is the list of earlier models.
 */
export const useGraphStore = defineStore('graph', () => {
  const settings = useSettingsStore();
  const model = shallowRef<GraphModel>(emptyModel());
  const selection = ref<string[]>([]);
  const fileName = ref('untitled.json');
  /** The last thing the editor wants the user to know (a refused connection, a bad file). */
  const notice = ref<{ text: string; error: boolean; at: number } | null>(null);
  /** The type of the wire being dragged on the canvas, for the sockets to show whether they can take it. */
  const dragging = ref<{ type: SocketType; from: string } | null>(null);
  /** The drawn size of a node, from the canvas (placement falls back to estimates without it). */
  let measure: ((id: string) => Size | undefined) | undefined;
  /** Boxes taken on the canvas: nodes and their open previews. */
  const occupied = () => [...nodeBoxes(view.value, measure, settings.previewNodes).values()];

  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Shows a notice; news goes away by itself after a few seconds, errors stay until dismissed. */
  function tell(text: string, error = false) {
    const at = Date.now();
    notice.value = { text, error, at };
    clearTimeout(noticeTimer);
    if (!error) noticeTimer = setTimeout(() => notice.value?.at === at && (notice.value = null), 6000);
  }

  const { past, future, commit, undo, redo } = undoHistory(model, selection);

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
    return openDocument(core, fileName, parsed, { name, from, laidOut });
  }

  // Selection may name group boxes (`group:<id>`); commands act on their members.
  const members = (ids: readonly string[]) =>
    ids.flatMap((id) =>
      id.startsWith('group:') ? (model.value.groups?.find((g) => `group:${g.id}` === id)?.nodes ?? []) : [id],
    );

  const core: GraphCore = { model, selection, commit, tell, occupied: () => occupied(), members };
  const commands = { ...editCommands(core), ...arrangeCommands(core) };

  // registryVersion: installing or disabling a node pack changes what the model means.
  const view = computed(() => (registryVersion.value, viewGraph(model.value, registry)));
  const compiled = checkedGraph(model, () => settings.size);
  const missing = computed(() => (registryVersion.value, missingPacks(model.value, registry)));
  /** The document as saved, shared or exported: with the packs its nodes come from. */
  const documentModel = () => recordPacks(model.value, packs);
  const documentText = () => serialiseDocument(documentModel());
  const { missingUploads, uploadDiagnostics } = watchUploads(model);
  const diagnostics = computed<Diagnostic[]>(() => [...compiled.value.diagnostics, ...uploadDiagnostics.value]);
  /** Problems the last run found that checking the graph cannot (an image that does not load): shown on their nodes until the next edit. */
  const runDiagnostics = ref<Diagnostic[]>([]);
  watch(model, () => (runDiagnostics.value = []));
  const diagnosticsByNode = byNode(diagnostics, runDiagnostics);
  /** Shapes of every value the plan computes, by `node.output`, for the edges' labels. */
  const shapes = computed(() => {
    const m = new Map<string, number[]>();
    for (const s of compiled.value.plan?.steps ?? []) for (const o of s.outputs) m.set(o.key, o.info.shape);
    return m;
  });

  autosave(AUTOSAVE_KEY, model, fileName, tell);

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
