import { createPinia } from 'pinia';
import { createApp } from 'vue';
import microast from '../../presets/microast.json';
import { parseDocument } from '../graph/document';
import App from './App.vue';
import { recoverAutosave, useGraphStore } from './stores/graph';
import { useRunStore } from './stores/run';
import { usePluginsStore } from './stores/plugins';
import { openSharedLink } from './stores/share';
import './style.css';

/**
 * The editor. What opens: a `#graph=` share link, else `?preset=NAME.json`, else the autosaved graph, else the
 * MicroAST preset: a first visit shows a real picture after one click for its 1.9 MB of weights (OutputPanel's first
 * picture card), where Gatys would need VGG19's 548 MB. `?backend=webgpu|webgl|wasm|cpu` pins a backend, `?size=PX` the run size.
 */
async function start() {
  const pinia = createPinia();
  const app = createApp(App).use(pinia);
  const graph = useGraphStore(pinia);
  const query = new URLSearchParams(location.search);
  const preset = query.get('preset');
  const saved = recoverAutosave();
  // A share link is decoded in a worker (stores/share.ts); the page mounts meanwhile and stays responsive.
  // A link that cannot be shown leaves what would have opened without it.
  const fallback = () => {
    if (saved && !query.has('fresh')) graph.load(saved.model, saved.name);
    else graph.load(parseDocument(microast).model!, 'microast.json');
  };
  const shared = location.hash.startsWith('#graph=') ? openSharedLink(graph, location.hash) : null;
  if (shared) {
    history.replaceState(null, '', location.pathname + location.search);
    void shared.then((opened) => {
      if (!opened) fallback();
      graph.past = [];
    });
  } else if (preset && /^[\w-]+\.json$/.test(preset)) {
    const res = await fetch(new URL(preset, location.href));
    if (!res.ok || !graph.open(await res.text(), preset)) graph.tell(`the preset ${preset} could not be opened`, true);
  } else fallback();
  // The preset's steps stay as written; the run size starts small enough for a first look on any backend.
  graph.past = [];
  app.mount('#app');
  useRunStore(pinia).init();
  await usePluginsStore(pinia).restore();
}

void start();
