/**
 * Where the editor's own server (`npm start`, `vite preview`) serves manifest checkpoints to the page:
 * `GET WEIGHTS_ROUTE` says the server is there (and its mirror), `GET WEIGHTS_ROUTE/NAME` the checkpoint's bytes,
 * `GET WEIGHTS_ROUTE/NAME/progress` how far its download from the source has got. For a checkpoint that is a folder
 * of files, `GET WEIGHTS_ROUTE/NAME` answers `WeightsFolderInfo` once the server holds the folder, and
 * `GET WEIGHTS_ROUTE/NAME/files/FILE` each file's bytes.
 */
export const WEIGHTS_ROUTE = '/__stylegraph/weights';

/** What `GET WEIGHTS_ROUTE` answers. */
export interface WeightsServerInfo {
  stylegraph: 'weights';
  /** The server's `STYLEGRAPH_WEIGHTS_MIRROR`, used when the page names no mirror of its own. */
  mirror: string | null;
  /** Manifest names the server fetches. */
  names: string[];
}

/** What `GET WEIGHTS_ROUTE/NAME/progress` answers while the server downloads; null when it is not. */
export type WeightsServerProgress = { received: number; total: number | null } | null;

/** What `GET WEIGHTS_ROUTE/NAME` answers for a folder checkpoint: where the server got it, and its files. */
export interface WeightsFolderInfo {
  folder: string;
  files: { name: string; size: number; sha256: string | null }[];
}
