import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import {
  originChoices,
  originOf,
  packLocation,
  projectPackList,
  rememberOrigin,
  saveStoredPacks,
  storedPacks,
  type ProjectPack,
} from '../../web/pack-store';
import { packs, registryVersion } from '../registry';
import { useGraphStore } from './graph';
import { useRunStore, type PackLoad } from './run';
import {
  consent,
  hashOldRecords,
  installedPacks,
  syncNow,
  type InstalledPack,
  type Loadable,
  type PacksState,
  type PendingPack,
} from './plugins-parts';

export type { InstalledPack, PendingPack } from './plugins-parts';

/**
 * Node packs in the editor. Nothing loads without consent: a URL or file is shown with its origin first, the
 * choice is remembered per origin (and can be revoked), and installed packs are kept with their source so they
 * load again after a reload. A pack's code runs only in the sandboxed worker that runs graphs: the page gets its
 * node types as data (src/editor/registry.ts builds proxies of them for the palette, inspector and validation).
 *
 * The worker runs pack code, so nothing it says decides anything here: the pack list, names, node types and
 * enabled state are the page's records from install (by sha256). The page loads packs one at a time and attributes
 * each answer (or a missing one, after PACK_LOAD_MS) to the pack it sent; a pack it no longer wants (removed, or
 * hung) means a new worker, since its code may have changed the old one for good.
 */
export const usePluginsStore = defineStore('plugins', () => {
  const installed = shallowRef<InstalledPack[]>([]);
  const pending = ref<PendingPack | null>(null);
  const origins = ref(originChoices());
  const busy = ref(false);
  /** The packs the project lists for the command line, offered here with the same consent. */
  const project = shallowRef<ProjectPack[]>([]);
  const loadProject = async () => (project.value = await projectPackList(location.href));
  /** What became of each pack in this page's worker, by key (this session only: nothing of it is stored). */
  const session = new Map<string, { state: InstalledPack['state']; problem?: string }>();
  /** Packs that did not finish loading in time: left out until the page is reloaded. */
  const skipped = new Set<string>();
  /** The packs loaded in the current worker, by key. */
  const loaded = new Set<string>();
  /** Loads are one after another. */
  let chain: Promise<unknown> = Promise.resolve();
  const st: PacksState = {
    pending,
    busy,
    project,
    session,
    skipped,
    loaded,
    refresh: () => refresh(),
    sync: (o) => sync(o),
  };

  const refresh = () => {
    const off = useRunStore().packsOff;
    installed.value = installedPacks(st, off);
    origins.value = originChoices();
    registryVersion.value++;
  };

  /**
   * Brings the worker's packs to the enabled stored ones, and `extra` (a pack being installed: its answer is
   * returned). A new worker starts when `fresh`, when a loaded pack is no longer wanted, or to move in or out of the
   * sandbox; a pack that does not answer in time is skipped and the rest load again in a new worker.
   */
  function sync(
    o: { fresh?: boolean; extra?: Loadable; without?: readonly string[] } = {},
  ): Promise<PackLoad | undefined> {
    const job = chain.then(() => syncNow(st, o));
    chain = job.catch(() => {});
    return job;
  }

  /** Loads the packs installed earlier: the very bytes the user allowed (records from before hashes get theirs here). */
  async function restore() {
    await hashOldRecords();
    refresh();
    await sync();
    for (const p of installed.value)
      if (p.state === 'failed' && p.problem) useGraphStore().tell(`node pack ${p.name}: ${p.problem}`, true);
  }

  /** Asks to install from a URL or a picked file: refused origins say so, allowed ones go ahead, others ask. */
  async function request(typed: string, text?: string) {
    // A picked file is installed as it is; anything typed is a project pack's path, a URL or a path on this site.
    const where = text === undefined ? packLocation(typed, location.href, project.value) : typed;
    const origin = originOf(where);
    const choice = originChoices()[origin];
    if (choice === 'deny')
      return useGraphStore().tell(
        `packs from ${origin} were refused earlier; revoke that under Plugins to be asked again`,
        true,
      );
    pending.value = { where, origin, ...(text !== undefined ? { text } : {}) };
    if (choice === 'allow') await consent(st, true, false);
  }

  /** Removes what the page stored for this pack (by its key), and its code with the worker it ran in. */
  async function remove(key: string) {
    const gone = storedPacks().find((p) => p.sha256 === key);
    saveStoredPacks(storedPacks().filter((p) => p.sha256 !== key));
    if (gone) packs.remove(gone.name);
    session.delete(key);
    refresh();
    await sync();
    refresh();
  }

  /** Forgets an origin's choice and removes the packs that came from it. */
  async function revoke(origin: string) {
    rememberOrigin(origin, null);
    for (const p of storedPacks()) if (originOf(p.origin) === origin && p.sha256) await remove(p.sha256);
    refresh();
  }

  /** The run store started a new worker on its own (a Stop it had to force, packs turned off): load the packs again. */
  useRunStore().onRestart(() => {
    loaded.clear();
    packs.clear();
    refresh();
    void sync();
  });

  return {
    installed,
    pending,
    origins,
    busy,
    project,
    loadProject,
    restore,
    request,
    consent: (allow: boolean, remember: boolean) => consent(st, allow, remember),
    remove,
    revoke,
    refresh,
  };
});
