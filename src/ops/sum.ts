import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

/**
 * The sum of tensors of one shape, as tf.addN, but at most `group` at a time: tfjs's webgpu AddN binds every input as
 * a storage buffer in one shader, and WebGPU's default limit is 8 storage buffers per stage (inputs and output), so
 * an addN of 8 or more tensors is an invalid pipeline there (measured on Dawn: "Invalid ComputePipeline
 * AddNPackedProgram", and the run's values are garbage). Other backends get the same grouped sums.
 */
export function addMany(tf: TF, tensors: readonly tfjs.Tensor[], group = 6): tfjs.Tensor {
  if (tensors.length <= group) return tensors.length === 1 ? tf.clone(tensors[0]!) : tf.addN([...tensors]);
  return tf.tidy(() => {
    const parts: tfjs.Tensor[] = [];
    for (let at = 0; at < tensors.length; at += group) parts.push(addMany(tf, tensors.slice(at, at + group), group));
    return addMany(tf, parts, group);
  });
}
