/**
 * The StyleGraph plugin API: what a node pack may use (`import type ... from 'stylegraph/plugin'`). Packs need no
 * run-time import: TensorFlow.js reaches their code as `ctx.tf`, and `definePack` / `defineNodeType` only give
 * types. See docs/plugin-api.md.
 */
export { PLUGIN_API_VERSION, definePack, type PackManifest } from './packs';
export {
  SOCKET_TYPES, defineNodeType, isTensor,
  type ComputeContext, type ComputeServices, type InputDef, type NodeRole, type NodeTypeDef, type OutputDef, type ParamDef,
  type ParamDefs, type ParamValue, type ParamValues, type PreparedInput, type Shape, type ShapeContext, type SocketType,
  type Tensor, type TF, type Value, type ValueInfo,
} from './types';
