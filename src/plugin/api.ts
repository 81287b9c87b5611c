/**
 * The StyleGraph plugin API: what a node pack may use (`import type ... from 'stylegraph/plugin'`). Packs need no
 * run-time import: TensorFlow.js reaches their code as `ctx.tf`, and `definePack` / `defineNodeType` only give
 * types. See docs/plugin-api.md.
 */
export { PLUGIN_API_VERSION, definePack, type PackManifest } from './packs';
export {
  INPUT_SLOTS,
  OPTIMISER_METHODS,
  SOCKET_TYPES,
  SOURCE_KINDS,
  defineNodeType,
  defineParams,
  isTensor,
  type ComputeContext,
  type ComputeServices,
  type EncoderRole,
  type InputDef,
  type LossRole,
  type NodeRole,
  type NodeRoles,
  type NodeTypeDef,
  type OptimiserMethod,
  type OptimiserRole,
  type OptimiserSettings,
  type OutputDef,
  type ParamDef,
  type ParamDefs,
  type ParamsOf,
  type ParamValue,
  type ParamValues,
  type PreparedInput,
  type Shape,
  type SourceRole,
  type ShapeContext,
  type SocketType,
  type SumRole,
  type Tensor,
  type TF,
  type Value,
  type ValueInfo,
} from './types';
