/// <reference lib="webworker" />
import { decodeShared } from './share-decode';

/**
 * Decodes a share link off the page's thread: { fragment, heights } in, a SharedDocument out (share-decode.ts).
 * One message per worker; the page ends the worker when it has the answer (or gives up waiting).
 */
self.onmessage = (e: MessageEvent<{ fragment: string; heights: Record<string, number> }>) => {
  self.postMessage(decodeShared(e.data.fragment, e.data.heights));
};
