import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { PackRecord } from '../../plugin/packs';
import {
  checkPackText, originChoices, originOf, packLocation, projectPackList, rememberOrigin, saveStoredPacks, sha256Hex, storedPacks,
  type ProjectPack, type StoredPack,
} from '../../web/pack-store';
import { packs, registryVersion } from '../registry';
import { useGraphStore } from './graph';
import { useRunStore } from './run';

/** A pack waiting for the user's consent: where it comes from, and its text when it is a picked file. */
export interface PendingPack {
  where: string;
  origin: string;
  text?: string;
  /** The pack installed from here before had other bytes: its new version is asked about, even from an allowed origin. */
  changed?: boolean;
}

/**
 * Node packs in the editor. Nothing loads without consent: a URL or file is shown with its origin first, the
 * choice is remembered per origin (and can be revoked), and installed packs are kept with their source so they
 * load again after a reload. A pack's code runs only in the sandboxed worker that runs graphs: the page gets its
 * node types as data (src/editor/registry.ts builds proxies of them for the palette, inspector and validation).
 */
export const usePluginsStore = defineStore('plugins', () => {
  const installed = shallowRef<PackRecord[]>([]);
  const pending = ref<PendingPack | null>(null);
  const origins = ref(originChoices());
  const busy = ref(false);
  /** The packs the project lists for the command line, offered here with the same consent. */
  const project = shallowRef<ProjectPack[]>([]);
  const loadProject = async () => (project.value = await projectPackList(location.href));

  const refresh = () => {
    installed.value = packs.packs.map((p) => ({ ...p }));
    origins.value = originChoices();
    registryVersion.value++;
  };
  /** The enabled stored packs, and `extra` (a pack being installed), in the sandboxed worker; the page takes what it reports. */
  async function toWorker(extra?: { origin: string; source: string }) {
    const list = storedPacks().filter((p) => p.enabled && p.origin !== extra?.origin).map(({ origin, source }) => ({ origin, source }));
    const loaded = await useRunStore().installPacks(extra ? [...list, extra] : list);
    packs.set(loaded.packs);
    return loaded;
  }

  /** Loads the packs installed earlier: the very bytes the user allowed, or (older records) from an origin still allowed. */
  async function restore() {
    const choices = originChoices();
    const allowed: StoredPack[] = [];
    for (const p of storedPacks()) {
      const choice = choices[originOf(p.origin)];
      if (!p.enabled || choice === 'deny') continue;
      if (p.sha256 ? (await sha256Hex(p.source)) === p.sha256 : choice === 'allow') allowed.push(p);
    }
    const loaded = await useRunStore().installPacks(allowed.map(({ origin, source }) => ({ origin, source })));
    packs.set(loaded.packs);
    for (const e of loaded.errors) useGraphStore().tell(e, true);
    refresh();
  }

  /** Asks to install from a URL or a picked file: refused origins say so, allowed ones go ahead, others ask. */
  async function request(typed: string, text?: string) {
    // A picked file is installed as it is; anything typed is a project pack's path, a URL or a path on this site.
    const where = text === undefined ? packLocation(typed, location.href, project.value) : typed;
    const origin = originOf(where);
    const choice = originChoices()[origin];
    if (choice === 'deny') return useGraphStore().tell(`packs from ${origin} were refused earlier; revoke that under Plugins to be asked again`, true);
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
      // A new version replaces the one installed from the same place (toWorker leaves the stored one out).
      const loaded = await toWorker({ origin: p.where, source: text });
      const failed = loaded.failed.find((f) => f.origin === p.where);
      const pack = loaded.packs.find((x) => x.record.origin === p.where)?.record;
      if (failed) useGraphStore().tell(failed.error.includes('is not a StyleGraph node pack') ? failed.error : `the pack from ${p.where} could not be loaded: ${failed.error}`, true);
      if (pack) {
        saveStoredPacks([...storedPacks().filter((s) => s.name !== pack.name), { name: pack.name, origin: p.where, source: text, enabled: true, sha256 }]);
        useGraphStore().tell(`installed ${pack.name} ${pack.version}: ${pack.types.join(', ')}`);
      }
    } catch (e) {
      const message = (e as Error).message;
      useGraphStore().tell(message.includes('is not a node pack') ? message : `the pack at ${p.where} could not be fetched: ${message}`, true);
    } finally {
      busy.value = false;
      refresh();
    }
  }

  async function remove(name: string) {
    packs.remove(name);
    saveStoredPacks(storedPacks().filter((p) => p.name !== name));
    refresh();
    await toWorker();
    refresh();
  }

  /** Forgets an origin's choice and removes the packs that came from it. */
  function revoke(origin: string) {
    rememberOrigin(origin, null);
    for (const p of storedPacks()) if (originOf(p.origin) === origin) void remove(p.name);
    refresh();
  }

  /** The worker found a pack failing while running: disable it here too, so its nodes show as placeholders. */
  function disabled(name: string, problem: string) {
    packs.disable(name, problem);
    saveStoredPacks(storedPacks().map((p) => (p.name === name ? { ...p, enabled: false } : p)));
    refresh();
  }

  useRunStore().onPackDisabled(disabled);

  return { installed, pending, origins, busy, project, loadProject, restore, request, consent, remove, revoke, disabled, refresh };
});
