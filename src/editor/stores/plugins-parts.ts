/**
 * The plugins store's work (stores/plugins.ts) as plain functions over its state: which stored packs to load, the
 * worker's answers, bringing the worker's packs to the stored ones, consent and install.
 */
import type { Ref, ShallowRef } from 'vue';
import type { PackRecord } from '../../plugin/packs';
import {
  checkPackText,
  originChoices,
  originOf,
  PACK_NAME,
  rememberOrigin,
  saveStoredPacks,
  sha256Hex,
  storedPacks,
  type ProjectPack,
  type StoredPack,
} from '../../web/pack-store';
import type { PackTypeData } from '../../web/protocol';
import { packs } from '../registry';
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
export interface Loadable {
  key: string;
  origin: string;
  source: string;
}

/** The plugins store's state the functions here read and write. */
export interface PacksState {
  pending: Ref<PendingPack | null>;
  busy: Ref<boolean>;
  project: ShallowRef<ProjectPack[]>;
  /** What became of each pack in this page's worker, by key (this session only: nothing of it is stored). */
  session: Map<string, { state: InstalledPack['state']; problem?: string }>;
  /** Packs that did not finish loading in time: left out until the page is reloaded. */
  skipped: Set<string>;
  /** The packs loaded in the current worker, by key. */
  loaded: Set<string>;
  refresh: () => void;
  sync: (o?: { fresh?: boolean; extra?: Loadable; without?: readonly string[] }) => Promise<PackLoad | undefined>;
}

/** The installed packs as the dialog lists them: the stored records and what became of each in this page's worker. */
export function installedPacks(st: PacksState, off: boolean): InstalledPack[] {
  return storedPacks()
    .filter((p) => p.sha256)
    .map((p) => {
      const s = st.session.get(p.sha256!) ?? { state: p.enabled && !off ? ('loading' as const) : ('off' as const) };
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
}

/** The stored packs to load: enabled, not skipped, and the very bytes the user allowed. */
export async function wanted(st: PacksState): Promise<Loadable[]> {
  if (useRunStore().packsOff) return [];
  const choices = originChoices();
  const out: Loadable[] = [];
  for (const p of storedPacks()) {
    if (!p.enabled || !p.sha256 || st.skipped.has(p.sha256)) continue;
    if (choices[originOf(p.origin)] === 'deny') {
      st.session.set(p.sha256, {
        state: 'failed',
        problem: `not loaded: packs from ${originOf(p.origin)} are refused`,
      });
      continue;
    }
    if ((await sha256Hex(p.source)) !== p.sha256) {
      st.session.set(p.sha256, {
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
export function apply(st: PacksState, p: StoredPack, reply: Extract<PackLoad, { kind: 'loaded' }>['reply']) {
  const key = p.sha256!;
  if (!reply.pack) {
    packs.remove(p.name);
    st.session.set(key, { state: 'failed', problem: `did not load: ${reply.error ?? 'the worker described no pack'}` });
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
  st.session.set(key, problems.length ? { state: 'failed', problem: problems.join('; ') } : { state: 'loaded' });
}

/** Brings the worker's packs to the enabled stored ones, and `extra` (see the store's sync). */
export async function syncNow(
  st: PacksState,
  {
    fresh = false,
    extra,
    without = [],
  }: {
    fresh?: boolean;
    extra?: Loadable;
    without?: readonly string[];
  },
): Promise<PackLoad | undefined> {
  const run = useRunStore();
  const list = [
    ...(await wanted(st)).filter((p) => p.key !== extra?.key && !without.includes(p.key)),
    ...(extra ? [extra] : []),
  ];
  const keys = new Set(list.map((p) => p.key));
  if (fresh || [...st.loaded].some((k) => !keys.has(k)) || (run.hasWorker() && list.length > 0 !== run.sandboxed)) {
    st.loaded.clear();
    packs.clear();
    run.restartWorker(list.length > 0);
  }
  let outcome: PackLoad | undefined;
  for (const p of list) {
    if (st.loaded.has(p.key)) continue;
    const isExtra = p === extra;
    if (!isExtra) st.session.set(p.key, { state: 'loading' });
    st.refresh();
    const r = await run.loadPack(p);
    if (r.kind === 'timeout') {
      // Its code is still running in the worker (a loop at its top level): a new worker loads the others.
      st.skipped.add(p.key);
      st.session.set(p.key, {
        state: 'failed',
        problem: `did not finish loading within ${PACK_LOAD_MS / 1000} s: left out until you reload the page (a new worker was started without it)`,
      });
      await syncNow(st, { fresh: true, ...(extra && !isExtra ? { extra, without } : {}) });
      return isExtra ? r : outcome;
    }
    if (r.kind === 'gone') {
      if (isExtra) outcome = r;
      else st.session.set(p.key, { state: 'failed', problem: `not loaded: ${r.error}` });
      // A new worker (the run store's own restart) loads them again: its listener queued that.
      if (!run.hasWorker() || r.error.includes('restarted')) return outcome;
      continue;
    }
    st.loaded.add(p.key);
    if (isExtra) outcome = r;
    else {
      const stored = storedPacks().find((s) => s.sha256 === p.key);
      if (stored) apply(st, stored, r.reply);
    }
  }
  st.refresh();
  return outcome;
}

export async function consent(st: PacksState, allow: boolean, remember: boolean): Promise<void> {
  const p = st.pending.value;
  st.pending.value = null;
  if (!p) return;
  // Only a ticked "remember" is remembered: a single yes installs these bytes and nothing else.
  if (remember) rememberOrigin(p.origin, allow ? 'allow' : 'deny');
  if (!allow) return st.refresh();
  st.busy.value = true;
  try {
    let text = p.text;
    if (text === undefined) {
      const res = await fetch(p.where);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      text = await res.text();
      checkPackText(p.where, res.headers.get('content-type'), text, st.project.value);
    }
    const sha256 = await sha256Hex(text);
    // An allowed origin installs without a question, unless what it serves changed since the user allowed it.
    const before = storedPacks().find((s) => s.origin === p.where);
    if (!p.changed && before?.sha256 && before.sha256 !== sha256) {
      st.pending.value = { where: p.where, origin: p.origin, text, changed: true };
      return;
    }
    if (storedPacks().some((s) => s.sha256 === sha256 && s.enabled))
      return useGraphStore().tell(
        `this pack is installed already (${storedPacks().find((s) => s.sha256 === sha256)!.name})`,
      );
    await install(st, p.where, text, sha256);
  } catch (e) {
    const message = (e as Error).message;
    useGraphStore().tell(
      message.includes('is not a node pack') ? message : `the pack at ${p.where} could not be fetched: ${message}`,
      true,
    );
  } finally {
    st.busy.value = false;
    st.refresh();
  }
}

/**
 * Loads these bytes in the worker and, when they describe a pack, stores the page's record of it: the name,
 * version and node types as they were said now, which is all the page will go by later.
 */
async function install(st: PacksState, where: string, source: string, sha256: string): Promise<void> {
  // A new version of a pack from the same place loads in place of the old one (in a new worker, without it).
  const replaced = storedPacks().filter((s) => s.origin === where);
  const r = await st.sync({
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
    if (r?.kind !== 'timeout') await st.sync({ fresh: true });
    return;
  }
  const same = storedPacks().find((s) => s.name === name && s.origin !== where);
  if (same) {
    tell(`a pack named "${name}" is installed already (from ${same.origin}): remove it first`, true);
    await st.sync({ fresh: true });
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
  apply(st, stored, { pack });
  tell(`installed ${name} ${stored.version}: ${types.join(', ')}`);
}

/** Stored records from before packs were keyed by hash get theirs: the bytes from an origin the user allowed are kept as allowed; others stay off. */
export async function hashOldRecords(): Promise<void> {
  const choices = originChoices();
  let changed = false;
  const all: StoredPack[] = [];
  for (const p of storedPacks()) {
    if (p.sha256) all.push(p);
    else {
      changed = true;
      all.push({
        ...p,
        sha256: await sha256Hex(p.source),
        enabled: p.enabled && choices[originOf(p.origin)] === 'allow',
      });
    }
  }
  if (changed) saveStoredPacks(all);
}
