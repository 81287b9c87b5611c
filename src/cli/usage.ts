/** The `stylegraph` command's usage text and the options every command reads (one table for all of them). */
import type { parseArgs } from 'node:util';

export const USAGE = `usage:
  stylegraph run FILE [--content IMG|FOLDER] [--style IMG ...] [--set NODE_ID.PARAM=VALUE ...] [--size PX]
                      [--steps N] [--backend webgpu|wasm|cpu] [--seed N] [--out OUT.png] [--report REPORT.json]
                      [--threads N]   wasm's threads (1-8; default: timed at start, every core unless the machine is busy)
                      [--winograd kernel|auto|on|off]   VGG's 3x3 convs by Winograd F(4x4,3x3); kernel (default): where
                                              StyleGraph's wasm kernel runs it (wasm, 0.2-0.6x XNNPACK's time);
                                              auto: per layer where timed faster; on: everywhere; off: never
                      [--weights NAME=PATH_OR_URL ...] [--plugin PATH_OR_URL ...] [--config FILE]
                          networks without --weights use their cached checkpoint (weights fetch), else random
                      [--scales 0.25,0.5,1]   coarse to fine: optimise small, upsample, go on
                                              (--steps 200,50,10 gives each scale its own count)
                      [--style-size PX | --style-scale F]   the style pictures' longest side in px, or F times
                                              --size (smaller: larger brush strokes; default: --size)
                      [--mask NAME=IMG ...]   the painted region named NAME (a mask node) reads IMG, a grey
                                              picture (white: inside); repeat for each region
                      [--tileable]   every network pads circularly: a picture that tiles without a seam
                                     (presets/texture.json; a size divisible by 16)
                      [--tile PX|off] [--memory-limit GIB]
                          large images run on tiles of at most PX px (plus a halo) when the step would
                          need more memory than the backend holds (wasm: 3 GiB); --tile forces or stops it
  stylegraph run FILE --content CLIP.mp4 --out OUT.mp4|.webm|.mov|.mkv   a video, frame by frame (ffmpeg on PATH)
                      [--frames A..B] [--fps N] [--ffmpeg PATH]   frames A to B (from 0); the result's frame rate
                      [--blend K]       less flicker: each frame keeps K (0-0.95) of the previous output
                      [--warm-start]    optimisation graphs start each frame from the previous result
                      [--flow]          the previous output follows the optical flow (occlusions masked): the
                                        start and a temporal loss of optimisation graphs; feed-forward graphs
                                        keep K of it (--blend K, default 0.5) where the flow is trusted
                      [--redis URL [--queue NAME]]   batches of 8 frames through the queue's workers
  stylegraph validate FILE ...            checks one or more graphs (presets/*.json): everything plan
                                          and run check before reading an image
  stylegraph plan FILE [--size PX] [--set ...] [--steps N] [--threads N] [--style-size PX | --style-scale F]
  stylegraph weights fetch NAME ... | --for GRAPH
                                         downloads checkpoints (every one GRAPH's nodes name) into the cache
                                         that run reads them from: resumed if cut off, checked against their hash
  stylegraph weights list, weights clear  the download cache ($STYLEGRAPH_CACHE or ~/.cache/stylegraph/weights)
  stylegraph weights known               the checkpoints in the manifest, and which are cached
  Downloads come from STYLEGRAPH_WEIGHTS_MIRROR, or "weightsMirror" in stylegraph.config.json, where set
  (the same file names under another base URL).

  A queue of workers on Redis (BullMQ), on one machine or many:
  stylegraph worker --redis URL [--concurrency N] [--backend webgpu|wasm|cpu] [--threads N] [--queue NAME] [--weights ...]
                    [--lock-seconds S]   takes jobs until SIGTERM (then finishes the job in hand)
                    [--out-root DIR ...]  writes pictures only inside these folders (default: the folder it starts in)
                    [--max-job-mb N]     refuses job payloads over N MiB unread (default 64)
  stylegraph submit FILE --redis URL [--content IMG|FOLDER ...] [--style IMG|FOLDER ...] [--sweep]
                    [--out DIR] [--size PX] [--steps N] [--seed N] [--set ...] [--detach] [--queue NAME] [--overwrite]
                         one job per content x style (x sweep cell); waits for all unless --detach
  stylegraph status BATCH_ID --redis URL [--queue NAME]

  --plugin loads a node pack (also listed in stylegraph.config.json as { "plugins": [...] }; --verbose names
  every pack loaded). Each pack runs in a process of its own that computes on tensors and nothing else: no files,
  network, programs, signals or environment; 2048 MiB, 120 s a call ([--no-sandbox-packs] lifts it).
  A config's packs and "remoteHosts" are used only once you trust the file:
  stylegraph trust [CONFIG]              records the config's path and hash (a changed file is asked again)
  A document reads only files in its own folder; images you give (--content, --style, --mask, --set) are read anywhere.
  [--allow-remote]            lets a document's http(s) sources be fetched (else only hosts a trusted config lists)
  [--allow-private-network]   also from loopback, private and link-local addresses (127/8, 10/8, 169.254/16...)
  FILE is a graph document (presets/gatys.json). Without --out, results go to ./stylegraph-out/.
  Exit status: 0 done, 1 the run failed, 2 bad input (file, graph, option), 130 stopped.`;

/** Every option of every command; each command reads the ones it takes. */
export const OPTIONS = {
  content: { type: 'string', multiple: true },
  redis: { type: 'string' },
  queue: { type: 'string' },
  concurrency: { type: 'string' },
  'lock-seconds': { type: 'string' },
  'out-root': { type: 'string', multiple: true },
  'max-job-mb': { type: 'string' },
  overwrite: { type: 'boolean' },
  sweep: { type: 'boolean' },
  detach: { type: 'boolean' },
  style: { type: 'string', multiple: true },
  mask: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  size: { type: 'string' },
  steps: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  winograd: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  report: { type: 'string' },
  weights: { type: 'string', multiple: true },
  plugin: { type: 'string', multiple: true },
  scales: { type: 'string' },
  tile: { type: 'string' },
  'memory-limit': { type: 'string' },
  config: { type: 'string' },
  for: { type: 'string', multiple: true },
  verbose: { type: 'boolean' },
  'allow-remote': { type: 'boolean' },
  'allow-private-network': { type: 'boolean' },
  ffmpeg: { type: 'string' },
  frames: { type: 'string' },
  fps: { type: 'string' },
  blend: { type: 'string' },
  'warm-start': { type: 'boolean' },
  flow: { type: 'boolean' },
  tileable: { type: 'boolean' },
  'style-size': { type: 'string' },
  'style-scale': { type: 'string' },
  'no-sandbox-packs': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The parsed options (`parseArgs` with OPTIONS). */
export type Flags = ReturnType<
  typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
>['values'];
