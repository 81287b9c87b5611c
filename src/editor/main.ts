import { createPinia } from 'pinia';
import { createApp } from 'vue';
import gatys from '../../presets/gatys.json';
import { parseDocument } from '../graph/document';
import App from './App.vue';
import { openFromHash } from './files';
import { recoverAutosave, useGraphStore } from './stores/graph';
import { useRunStore } from './stores/run';
import { usePluginsStore } from './stores/plugins';
import './style.css';

/**
 * The editor. What opens: a `#graph=` share link, else `?preset=NAME.json`, else the autosaved graph, else the
 * Gatys preset. `?backend=webgpu|webgl|wasm|cpu` pins a backend, `?size=PX` the run size.
 */
async function start() {
  const pinia = createPinia();
  const app = createApp(App).use(pinia);
  const graph = useGraphStore(pinia);
  const query = new URLSearchParams(location.search);
  const preset = query.get('preset');
  const saved = recoverAutosave();
  if (openFromHash(graph, location.hash)) history.replaceState(null, '', location.pathname + location.search);
  else if (preset && /^[\w-]+\.json$/.test(preset)) {
    const res = await fetch(new URL(preset, location.href));
    if (!res.ok || !graph.open(await res.text(), preset)) graph.tell(`the preset ${preset} could not be opened`, true);
  } else if (saved && !query.has('fresh')) graph.load(saved.model, saved.name);
  else graph.load(parseDocument(gatys).model!, 'gatys.json');
  // The preset's steps stay as written; the run size starts small enough for a first look on any backend.
  graph.past = [];
  app.mount('#app');
  useRunStore(pinia).init();
  await usePluginsStore(pinia).restore();
}

void start();
