import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { PackRecord } from '../../plugin/packs';
import {
  checkPackText,
  originChoices,
  originOf,
  PACK_NAME,
  packLocation,
  projectPackList,
  rememberOrigin,
  saveStoredPacks,
  sha256Hex,
  storedPacks,
  type ProjectPack,
  type StoredPack,
} from '../../web/pack-store';
import type { PackTypeData } from '../../web/protocol';
import { packs, registryVersion } from '../registry';
import { useGraphStore } from './graph';
import { PACK_LOAD_MS, useRunStore, type PackLoad } from './run';

/** A pack waiting for the user's consent: where it comes from, and its text when it is a picked file. */
export interface PendingPack {
  where: string;
  origin: string;
  text?: string;
  /** The pack installed from here before had other bytes: its new version is asked about, even from an allowed origin. */
  changed?: boolean;
}

/**
 * An installed pack as the plugins dialog lists it: the page's own record (stored at install, keyed by the sha256 of
 * its source) and what became of it in this page's worker.
 */
export interface InstalledPack {
  /** The sha256 of its source: Remove goes by it. */
  key: string;
  name: string;
  version: string;
  description: string;
  origin: string;
  types: string[];
  /** The user's choice, stored. */
  enabled: boolean;
  /**
   * This page's worker: `loaded`, `loading`, `off` (disabled, or packs off for this page), or `failed` (it did not
   * load, or not as it was installed: `problem` says how, partly in the worker's words, which are advisory).
   */
  state: 'loaded' | 'loading' | 'off' | 'failed';
  problem?: string;
}

/** A pack to load: its key, where from, its bytes. */
interface Loadable {
  key: string;
  origin: string;
  source: string;
}

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

  const refresh = () => {
    const off = useRunStore().packsOff;
    installed.value = storedPacks()
      .filter((p) => p.sha256)
      .map((p) => {
        const s = session.get(p.sha256!) ?? { state: p.enabled && !off ? 'loading' : 'off' };
        return {
          key: p.sha256!,
          name: p.name,
          version: p.version ?? '',
          description: p.description ?? '',
          origin: p.origin,
          types: p.types ?? [],
          enabled: p.enabled,
          state: !p.enabled ? 'off' : off ? 'off' : s.state,
          ...(off && p.enabled
            ? { problem: 'not loaded: this page started with packs off (reload without ?nopacks to load them)' }
            : s.problem
              ? { problem: s.problem }
              : {}),
        };
      });
    origins.value = originChoices();
    registryVersion.value++;
  };

  /** The stored packs to load: enabled, not skipped, and the very bytes the user allowed. */
  async function wanted(): Promise<Loadable[]> {
    if (useRunStore().packsOff) return [];
    const choices = originChoices();
    const out: Loadable[] = [];
    for (const p of storedPacks()) {
      if (!p.enabled || !p.sha256 || skipped.has(p.sha256)) continue;
      if (choices[originOf(p.origin)] === 'deny') {
        session.set(p.sha256, { state: 'failed', problem: `not loaded: packs from ${originOf(p.origin)} are refused` });
        continue;
      }
      if ((await sha256Hex(p.source)) !== p.sha256) {
        session.set(p.sha256, {
          state: 'failed',
          problem: 'not loaded: its stored bytes are not the ones you allowed',
        });
        continue;
      }
      out.push({ key: p.sha256, origin: p.origin, source: p.source });
    }
    return out;
  }

  /** Registers the node types the worker described for a stored pack, as far as they match its record. */
  function apply(p: StoredPack, reply: Extract<PackLoad, { kind: 'loaded' }>['reply']) {
    const key = p.sha256!;
    if (!reply.pack) {
      packs.remove(p.name);
      session.set(key, { state: 'failed', problem: `did not load: ${reply.error ?? 'the worker described no pack'}` });
      return;
    }
    const record: PackRecord = {
      name: p.name,
      version: p.version ?? '',
      api: '',
      description: p.description ?? '',
      origin: p.origin,
      types: p.types ?? [],
      status: 'enabled',
    };
    const left = packs.add(record, reply.pack.types);
    const registered = packs.packs.find((x) => x.name === p.name)?.types ?? [];
    const missing = record.types.filter((t) => !registered.includes(t));
    const said = String(reply.pack.record.name);
    const problems = [
      ...(said !== p.name
        ? [`it named itself "${said.slice(0, 64)}" this time, not "${p.name}" as when it was installed`]
        : []),
      ...(left.length ? [`node types left out (not as installed): ${left.join(', ').slice(0, 300)}`] : []),
      ...(missing.length ? [`node types missing: ${missing.join(', ')}`] : []),
    ];
    session.set(key, problems.length ? { state: 'failed', problem: problems.join('; ') } : { state: 'loaded' });
  }

  /**
   * Brings the worker's packs to the enabled stored ones, and `extra` (a pack being installed: its answer is
   * returned). A new worker starts when `fresh`, when a loaded pack is no longer wanted, or to move in or out of the
   * sandbox; a pack that does not answer in time is skipped and the rest load again in a new worker.
   */
  function sync(
    o: { fresh?: boolean; extra?: Loadable; without?: readonly string[] } = {},
  ): Promise<PackLoad | undefined> {
    const job = chain.then(() => syncNow(o));
    chain = job.catch(() => {});
    return job;
  }

  async function syncNow({
    fresh = false,
    extra,
    without = [],
  }: {
    fresh?: boolean;
    extra?: Loadable;
    without?: readonly string[];
  }): Promise<PackLoad | undefined> {
    const run = useRunStore();
    const list = [
      ...(await wanted()).filter((p) => p.key !== extra?.key && !without.includes(p.key)),
      ...(extra ? [extra] : []),
    ];
    const keys = new Set(list.map((p) => p.key));
    if (fresh || [...loaded].some((k) => !keys.has(k)) || (run.hasWorker() && list.length > 0 !== run.sandboxed)) {
      loaded.clear();
      packs.clear();
      run.restartWorker(list.length > 0);
    }
    let outcome: PackLoad | undefined;
    for (const p of list) {
      if (loaded.has(p.key)) continue;
      const isExtra = p === extra;
      if (!isExtra) session.set(p.key, { state: 'loading' });
      refresh();
      const r = await run.loadPack(p);
      if (r.kind === 'timeout') {
        // Its code is still running in the worker (a loop at its top level): a new worker loads the others.
        skipped.add(p.key);
        session.set(p.key, {
          state: 'failed',
          problem: `did not finish loading within ${PACK_LOAD_MS / 1000} s: left out until you reload the page (a new worker was started without it)`,
        });
        await syncNow({ fresh: true, ...(extra && !isExtra ? { extra, without } : {}) });
        return isExtra ? r : outcome;
      }
      if (r.kind === 'gone') {
        if (isExtra) outcome = r;
        else session.set(p.key, { state: 'failed', problem: `not loaded: ${r.error}` });
        // A new worker (the run store's own restart) loads them again: its listener queued that.
        if (!run.hasWorker() || r.error.includes('restarted')) return outcome;
        continue;
      }
      loaded.add(p.key);
      if (isExtra) outcome = r;
      else {
        const stored = storedPacks().find((s) => s.sha256 === p.key);
        if (stored) apply(stored, r.reply);
      }
    }
    refresh();
    return outcome;
  }

  /** Loads the packs installed earlier: the very bytes the user allowed (records from before hashes get theirs here). */
  async function restore() {
    const choices = originChoices();
    let changed = false;
    const all: StoredPack[] = [];
    for (const p of storedPacks()) {
      if (p.sha256) all.push(p);
      else {
        // An older record: the bytes from an origin the user allowed are kept as allowed; others stay off.
        changed = true;
        all.push({
          ...p,
          sha256: await sha256Hex(p.source),
          enabled: p.enabled && choices[originOf(p.origin)] === 'allow',
        });
      }
    }
    if (changed) saveStoredPacks(all);
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
    if (choice === 'allow') await consent(true, false);
  }

  async function consent(allow: boolean, remember: boolean) {
    const p = pending.value;
    pending.value = null;
    if (!p) return;
    // Only a ticked "remember" is remembered: a single yes installs these bytes and nothing else.
    if (remember) rememberOrigin(p.origin, allow ? 'allow' : 'deny');
    if (!allow) return refresh();
    busy.value = true;
    try {
      let text = p.text;
      if (text === undefined) {
        const res = await fetch(p.where);
        if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
        text = await res.text();
        checkPackText(p.where, res.headers.get('content-type'), text, project.value);
      }
      const sha256 = await sha256Hex(text);
      // An allowed origin installs without a question, unless what it serves changed since the user allowed it.
      const before = storedPacks().find((s) => s.origin === p.where);
      if (!p.changed && before?.sha256 && before.sha256 !== sha256) {
        pending.value = { where: p.where, origin: p.origin, text, changed: true };
        return;
      }
      if (storedPacks().some((s) => s.sha256 === sha256 && s.enabled))
        return useGraphStore().tell(
          `this pack is installed already (${storedPacks().find((s) => s.sha256 === sha256)!.name})`,
        );
      await install(p.where, text, sha256);
    } catch (e) {
      const message = (e as Error).message;
      useGraphStore().tell(
        message.includes('is not a node pack') ? message : `the pack at ${p.where} could not be fetched: ${message}`,
        true,
      );
    } finally {
      busy.value = false;
      refresh();
    }
  }

  /**
   * Loads these bytes in the worker and, when they describe a pack, stores the page's record of it: the name,
   * version and node types as they were said now, which is all the page will go by later.
   */
  async function install(where: string, source: string, sha256: string) {
    // A new version of a pack from the same place loads in place of the old one (in a new worker, without it).
    const replaced = storedPacks().filter((s) => s.origin === where);
    const r = await sync({
      extra: { key: sha256, origin: where, source },
      without: replaced.map((s) => s.sha256 ?? ''),
      fresh: replaced.length > 0,
    });
    const tell = useGraphStore().tell;
    const pack = r?.kind === 'loaded' ? r.reply.pack : undefined;
    const record = pack?.record;
    const name = typeof record?.name === 'string' && PACK_NAME.test(record.name) ? record.name : null;
    const types = (pack?.types ?? [])
      .map((t: PackTypeData) => t?.type)
      .filter((t): t is string => typeof t === 'string' && !!name && t.startsWith(`${name}/`));
    if (!pack || !name || !types.length) {
      const why =
        r?.kind === 'timeout'
          ? `it did not finish loading within ${PACK_LOAD_MS / 1000} s`
          : r?.kind === 'gone'
            ? r.error
            : r?.kind === 'loaded' && r.reply.error
              ? r.reply.error
              : 'the worker described no pack with node types';
      tell(
        why.includes('is not a StyleGraph node pack') ? why : `the pack from ${where} could not be installed: ${why}`,
        true,
      );
      // Its code ran in the worker: a new one, without it.
      if (r?.kind !== 'timeout') await sync({ fresh: true });
      return;
    }
    const same = storedPacks().find((s) => s.name === name && s.origin !== where);
    if (same) {
      tell(`a pack named "${name}" is installed already (from ${same.origin}): remove it first`, true);
      await sync({ fresh: true });
      return;
    }
    const text = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');
    saveStoredPacks([
      ...storedPacks().filter((s) => s.origin !== where && s.sha256 !== sha256),
      {
        name,
        origin: where,
        source,
        enabled: true,
        sha256,
        version: text(record!.version, 64),
        description: text(record!.description, 2000),
        types,
      },
    ]);
    const stored = storedPacks().find((s) => s.sha256 === sha256)!;
    apply(stored, { pack });
    tell(`installed ${name} ${stored.version}: ${types.join(', ')}`);
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
    consent,
    remove,
    revoke,
    refresh,
  };
});
