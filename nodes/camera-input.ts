import type { GraphModel } from '../src/graph/model';
import { fitSize } from '../src/ops/image';
import { defineNodeType } from '../src/plugin/types';

/** The source a camera node reads until a host gives it a frame: the editor's live camera. */
export const CAMERA_SOURCE = 'camera:';

export const isCameraSource = (source: string) => source.startsWith(CAMERA_SOURCE);

/** The camera nodes of a graph (each one a content slot: `--content` fills it on the command line). */
export const cameraNodes = (model: GraphModel): GraphModel['nodes'] => model.nodes.filter((n) => n.type === 'camera');

/** A copy of the model whose camera nodes read `source` (one live frame, decoded by the host under that name). */
export function withCameraSource(model: GraphModel, source: string): GraphModel {
  return {
    ...model,
    nodes: model.nodes.map((n) => (n.type === 'camera' ? { ...n, params: { ...n.params, source } } : n)),
  };
}

/**
 * A live camera (getUserMedia in the editor). The editor grabs a frame, names it and runs the graph on it; the
 * node reads that frame like an image, so a feed-forward graph's style side stays in the run memo from frame to
 * frame while everything downstream of the camera is computed again. On the command line the camera is the content
 * slot: `--content photo.jpg` replaces it, and without it the run says that the camera needs the editor.
 */
export default defineNodeType({
  type: 'camera',
  title: 'Camera',
  category: 'Inputs',
  role: 'source',
  description:
    'Live frames from a webcam (in the editor, press Start camera in the output panel). On the command line --content fills it.',
  inputs: {},
  outputs: { image: { type: 'Image' } },
  params: {
    source: {
      kind: 'image',
      default: CAMERA_SOURCE,
      label: 'frames',
      description: 'camera: is the live camera; the editor and --content set a frame or a photo here for each run.',
    },
  },
  roles: { source: { kind: 'camera', param: 'source', fills: 'content' } },
  infer: (ctx) => {
    const known = ctx.imageSize?.(ctx.params.source);
    // Before the first frame: the common 4:3 webcam.
    const [h, w] = known ? fitSize(known[0], known[1], ctx.size) : fitSize(480, 640, ctx.size);
    return { image: { shape: [1, h, w, 3] } };
  },
  compute: async (ctx) => ({ image: await ctx.loadImage(ctx.params.source, ctx.size) }),
});
