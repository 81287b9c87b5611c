/**
 * Response headers that make the editor cross-origin isolated (`crossOriginIsolated` true), which is what lets
 * the run worker use SharedArrayBuffer and so tfjs-wasm's threads. Sent by `npm start` (Vite's dev server) and
 * `vite preview` for every response, the run worker's sandbox page included; a static host must send the same two
 * headers on the page and its scripts (README, "Hosting").
 *
 * COEP is `credentialless` rather than `require-corp`: a document may name images on other sites, which the editor
 * shows as thumbnails with plain <img> (no CORS). Under `require-corp` those are blocked unless the other site
 * sends Cross-Origin-Resource-Policy; under `credentialless` they load, without cookies. The cost: Safari does not
 * implement `credentialless` (2026), so it runs wasm on one thread and the run bar says why.
 *
 * One object so that others can extend it (a CSP for the sandbox page, say) in one place.
 */
export const crossOriginIsolation: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'credentialless',
};
