import { getUpload, isUpload } from '../web/uploads';

/** Object URLs of dropped images (their bytes are in IndexedDB), made once per source and kept for the page's life. */
const urls = new Map<string, Promise<string | null>>();

/** A URL an <img> can show for an image node's `upload:` source, or null when this browser does not have its bytes. */
export function uploadUrl(source: string): Promise<string | null> {
  if (!isUpload(source)) return Promise.resolve(null);
  let url = urls.get(source);
  if (!url) {
    url = getUpload(source)
      .then((bytes) => (bytes ? URL.createObjectURL(new Blob([bytes], { type: imageType(source) })) : null))
      .catch(() => null);
    urls.set(source, url);
    // A source the browser lacked may be dropped later: only found images are remembered.
    void url.then((u) => u === null && urls.delete(source));
  }
  return url;
}

/** The MIME type of an image by its file name's extension (JPEG when it says nothing else). */
export function imageType(name: string): string {
  return /\.png$/i.test(name)
    ? 'image/png'
    : /\.webp$/i.test(name)
      ? 'image/webp'
      : /\.gif$/i.test(name)
        ? 'image/gif'
        : 'image/jpeg';
}
