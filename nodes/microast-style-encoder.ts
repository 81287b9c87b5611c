import { microEncoderNode } from './microast-weights';

/** MicroAST's style encoder: the content encoder's architecture with its own trained weights. */
export default microEncoderNode(
  'microast-style-encoder',
  'style',
  "MicroAST's style encoder: the same micro network as the content encoder, trained separately. Both levels feed the decoder twice over: their mean and standard deviation through AdaIN, and the modulator's per-channel filter weights and biases.",
);
