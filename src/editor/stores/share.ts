import { defineStore } from 'pinia';
import { ref } from 'vue';
import { exportPng, shareLink, uploadsIn, type UploadRef } from '../files';
import { useGraphStore } from './graph';
import { useRunStore } from './run';
import { useSettingsStore } from './settings';

export type ShareKind = 'link' | 'png';

/**
 * Share link and PNG export. A graph with images dropped in this browser (`upload:` references) would reach the
 * other side without them: unless "embed images" is on, the editor asks first and offers to embed them.
 */
export const useShareStore = defineStore('share', () => {
  const graph = useGraphStore();
  const settings = useSettingsStore();
  /** The question being asked: what is being shared and which nodes hold dropped images. */
  const pending = ref<{ kind: ShareKind; uploads: UploadRef[] } | null>(null);

  async function perform(kind: ShareKind, embed: boolean) {
    if (kind === 'link') await shareLink(graph, embed);
    else {
      const image = useRunStore().output;
      if (image) await exportPng(graph, image, embed);
    }
  }

  /** Shares now, or asks first when dropped images would be left behind. */
  async function request(kind: ShareKind) {
    const uploads = uploadsIn(graph.model);
    if (uploads.length && !settings.embedImages) {
      pending.value = { kind, uploads };
      return;
    }
    await perform(kind, settings.embedImages);
  }

  /** The answer: embed the images this time, share without them, or do nothing. */
  async function answer(choice: 'embed' | 'without' | 'cancel') {
    const p = pending.value;
    pending.value = null;
    if (!p || choice === 'cancel') return;
    await perform(p.kind, choice === 'embed');
    if (choice === 'without')
      graph.tell(`shared without ${p.uploads.map((u) => u.file).join(', ')}: whoever opens it is asked to drop an image on ${p.uploads.map((u) => u.label).join(', ')}`);
  }

  return { pending, request, answer };
});
