/**
 * Every frame's fields in their one canonical order, with the msgpack type and range each must
 * have. The encoder writes fields in this order (so equal frames give equal bytes) and the
 * validator checks them against it: one table, so the two cannot drift apart.
 * docs/protocol.md has the same tables in prose.
 */
import { FrameType, MAX_STREAM_ID, type FrameTypeCode } from './constants.js';
import type { Frame, ModelLoad, ModelOffer, RunTiming, StageRef, TensorSpec } from './frames.js';

/** What a field must hold on the wire. */
export type FieldKind =
  /** An integer in min..max (any msgpack int, or a float with an integral value). */
  | { readonly type: 'int'; readonly min: number; readonly max: number }
  /** A finite number >= min (ms durations and clock readings may be fractional). */
  | { readonly type: 'number'; readonly min: number }
  | { readonly type: 'string'; readonly nonEmpty: boolean }
  | { readonly type: 'bool' }
  /** An array of non-empty strings. */
  | { readonly type: 'strings' }
  /** A Cleave error code string. */
  | { readonly type: 'errorCode' }
  /** A dtype name such as "float32". */
  | { readonly type: 'dtype' }
  /** A TensorSpec shape: integers >= -1 (-1 is dynamic), at most maxRank of them. */
  | { readonly type: 'shape' }
  /** A map of tensor name -> tensor extension, at most maxTensors entries. */
  | { readonly type: 'tensors' }
  /** An ErrorDetail map: values are strings, numbers, booleans or arrays of strings and numbers. */
  | { readonly type: 'detail' }
  /** A string matching `pattern`; `expected` says what that is, for messages. */
  | { readonly type: 'ident'; readonly pattern: RegExp; readonly expected: string }
  /**
   * A map of non-empty string -> non-empty string (a StageRef's input mapping), at most
   * maxTensors entries, each key and value at most `maxLength` characters.
   */
  | { readonly type: 'nameMap'; readonly maxLength: number }
  /** A nested map with its own fields. */
  | { readonly type: 'record'; readonly fields: Fields }
  /** An array of nested maps. */
  | { readonly type: 'list'; readonly fields: Fields; readonly nonEmpty: boolean }
  /** A map of name -> nested map. */
  | { readonly type: 'dict'; readonly fields: Fields };

export interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly optional: boolean;
}

export type Fields = readonly FieldSpec[];

/** Field specs whose names are keys of T (the table may not name a field T does not have). */
type FieldsOf<T> = readonly (FieldSpec & { readonly name: Exclude<keyof T & string, 't'> })[];

const U32 = 0xffff_ffff;

const streamId: FieldKind = { type: 'int', min: 1, max: MAX_STREAM_ID };
const u32: FieldKind = { type: 'int', min: 0, max: U32 };
const nonNegative: FieldKind = { type: 'number', min: 0 };
const clock: FieldKind = { type: 'number', min: -Infinity };
const text: FieldKind = { type: 'string', nonEmpty: false };
const name: FieldKind = { type: 'string', nonEmpty: true };
const version: FieldKind = { type: 'int', min: 1, max: 0xffff };

function req<N extends string>(n: N, kind: FieldKind): FieldSpec & { readonly name: N } {
  return { name: n, kind, optional: false };
}
function opt<N extends string>(n: N, kind: FieldKind): FieldSpec & { readonly name: N } {
  return { name: n, kind, optional: true };
}

const TENSOR_SPEC = [req('name', name), req('dtype', { type: 'dtype' }), req('shape', { type: 'shape' })] as const satisfies FieldsOf<TensorSpec>;

/** ModelOffer fields. */
export const MODEL_OFFER_FIELDS = [
  req('name', name),
  req('version', u32),
  req('inputs', { type: 'list', fields: TENSOR_SPEC, nonEmpty: false }),
  req('outputs', { type: 'list', fields: TENSOR_SPEC, nonEmpty: false }),
  req('maxBatchSize', u32),
] as const satisfies FieldsOf<ModelOffer>;

/**
 * A StageRef `id`: 1 to 64 of A-Z a-z 0-9 _ -, starting with a letter, digit or _. No dots, so
 * the pool key `"<id>.<output>"` splits unambiguously at its first dot. Workflow node ids
 * (NODE_ID_PATTERN) all match.
 */
export const STAGE_ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

/**
 * Longest stage input name or pool key in a StageRef's `inputs`, characters. Tensor names from
 * exporters (`/encoder/layer.11/attention/Softmax_output_0`) stay well under it; a pool key adds
 * at most a 64-character stage id and a dot.
 */
export const MAX_POOL_KEY_LENGTH = 256;

/** StageRef fields. */
export const STAGE_FIELDS = [
  req('model', name), opt('version', u32),
  opt('id', { type: 'ident', pattern: STAGE_ID_PATTERN, expected: 'a stage id: 1 to 64 of A-Z a-z 0-9 _ - (no dots), not starting with -' }),
  opt('inputs', { type: 'nameMap', maxLength: MAX_POOL_KEY_LENGTH }),
] as const satisfies FieldsOf<StageRef>;

/** RunTiming fields. */
export const TIMING_FIELDS = [req('queueMs', nonNegative), req('computeMs', nonNegative), req('batchSize', u32)] as const satisfies FieldsOf<RunTiming>;

/** ModelLoad fields. */
export const MODEL_LOAD_FIELDS = [req('queued', u32), req('running', u32), req('queueMs', nonNegative), req('computeMs', nonNegative), req('batchSize', nonNegative)] as const satisfies FieldsOf<ModelLoad>;

/** Each frame type's fields after `t`, in canonical order. */
export const FRAME_FIELDS = {
  [FrameType.HELLO]: [
    req('minVersion', version), req('maxVersion', version), req('client', text), req('caps', { type: 'strings' }), opt('token', text),
  ],
  [FrameType.WELCOME]: [
    req('version', version), req('session', text), req('server', text), req('caps', { type: 'strings' }),
    req('models', { type: 'list', fields: MODEL_OFFER_FIELDS, nonEmpty: false }), req('credits', u32),
    req('maxFrameBytes', { type: 'int', min: 0, max: Number.MAX_SAFE_INTEGER }), req('device', text), req('serverTime', clock),
  ],
  [FrameType.RUN]: [
    req('id', streamId), req('model', name), opt('version', u32),
    opt('stages', { type: 'list', fields: STAGE_FIELDS, nonEmpty: true }), req('inputs', { type: 'tensors' }),
    opt('outputs', { type: 'strings' }), opt('deadlineMs', nonNegative), opt('priority', { type: 'int', min: 1, max: U32 }),
    opt('traceparent', text), opt('stream', { type: 'bool' }), opt('int8Outputs', { type: 'bool' }),
  ],
  [FrameType.PARTIAL]: [req('id', streamId), req('stage', u32), req('model', name), req('outputs', { type: 'tensors' })],
  [FrameType.RESULT]: [req('id', streamId), req('outputs', { type: 'tensors' }), req('timing', { type: 'record', fields: TIMING_FIELDS }), opt('traceparent', text)],
  [FrameType.ERROR]: [
    req('id', { type: 'int', min: 0, max: MAX_STREAM_ID }), req('code', { type: 'errorCode' }), req('message', text), opt('detail', { type: 'detail' }),
  ],
  [FrameType.CANCEL]: [req('id', streamId)],
  [FrameType.PING]: [req('ts', clock)],
  [FrameType.PONG]: [req('ts', clock), req('peerTs', clock)],
  [FrameType.CREDIT]: [req('credits', { type: 'int', min: 1, max: U32 })],
  [FrameType.LOAD]: [req('ts', clock), req('models', { type: 'dict', fields: MODEL_LOAD_FIELDS })],
  [FrameType.GOAWAY]: [req('code', { type: 'errorCode' }), req('reason', text)],
} as const satisfies { readonly [T in FrameTypeCode]: FieldsOf<FrameOf<T>> };

// Compile-time proof that every table names every field of its interface: a field added to
// frames.ts and forgotten here makes the union below non-never, and tsc reports that field.
type FrameOf<T extends FrameTypeCode> = Extract<Frame, { t: T }>;
type Forgotten<T, F extends readonly { readonly name: string }[]> = Exclude<keyof T, 't' | F[number]['name']>;
type AssertNever<T extends never> = T;
/** never, or a compile error naming the field a table forgot. */
export type EveryFieldListed = AssertNever<
  | { [T in FrameTypeCode]: Forgotten<FrameOf<T>, (typeof FRAME_FIELDS)[T]> }[FrameTypeCode]
  | Forgotten<ModelOffer, typeof MODEL_OFFER_FIELDS> | Forgotten<TensorSpec, typeof TENSOR_SPEC>
  | Forgotten<StageRef, typeof STAGE_FIELDS> | Forgotten<RunTiming, typeof TIMING_FIELDS> | Forgotten<ModelLoad, typeof MODEL_LOAD_FIELDS>
>;

/** Frame type names by code, for messages: 3 -> "RUN". */
export const FRAME_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(FrameType).map(([k, v]) => [v, k]));

/** Fields of frame type `t`, or undefined for a type this peer does not know. */
export function frameFields(t: number): Fields | undefined {
  return Object.hasOwn(FRAME_FIELDS, t) ? (FRAME_FIELDS as Readonly<Record<number, Fields>>)[t] : undefined;
}

/** "RUN", or "frame type 99" for an unknown one. */
export function frameName(t: number): string {
  return FRAME_NAMES.get(t) ?? `frame type ${t}`;
}

/** "1 HELLO, 2 WELCOME, ..." for messages. */
export function knownTypes(): string {
  return [...FRAME_NAMES].map(([code, n]) => `${code} ${n}`).join(', ');
}
