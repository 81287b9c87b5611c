import { microEncoderNode } from './microast-weights';

/** MicroAST's content encoder (its level 2 goes to the first AdaIN; level 1 is there to look at). */
export default microEncoderNode(
  'microast-content-encoder',
  'content',
  "MicroAST (Wang et al. 2023): a micro encoder with no VGG. A 9x9 conv, two stride-2 depthwise 3x3 convs each followed by a 1x1 conv, and a residual block give level 1 (a quarter of the image size, 64 channels); a second residual block gives level 2. The decoder starts from the content's level 2.",
);
