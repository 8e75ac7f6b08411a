/**
 * The Cleave client SDK (docs/client.md): picks the fastest healthy edge, runs models and
 * workflows over HTTP (msgpack or JSON, NDJSON streaming) and streams over the protocol
 * WebSocket, with deadlines, cancellation and safe retries. Runtime-neutral: fetch, WebSocket,
 * AbortController and TextEncoder only, so it runs in browsers, React Native, workerd and Node.
 */
export { CleaveClient, type AnswerMeta, type CallOptions, type InferOptions, type InferResult, type PlacementPreference, type WorkflowAnswer, type WorkflowOptions } from './cleave-client.js';
export { DEFAULT_CLIENT_OPTIONS, type CleaveClientOptions, type WebSocketConstructor } from './client-options.js';
export type { EdgeState, FetchLike } from './edge-selector.js';
export { EdgeSession, WORKFLOW_MODEL_PREFIX, type SessionRunOptions, type SessionRunResult, type SessionStreamEvent } from './edge-session.js';
export type { CacheMode, EdgeTiming, WireFormat } from './native-body.js';
export { backoffMs, type FailureKind } from './retry-policy.js';
export { dtypeOfArray, expectDType, tensor, type ArrayFor, type NumericDType, type TensorInput, type TypedTensor } from './typed-tensor.js';
export type { NodeReport, TextTensor, WorkflowOutput, WorkflowRunResult, WorkflowStreamEvent } from './workflow-body.js';
export { CleaveError, isCleaveError, type ErrorCode } from '../errors.js';
