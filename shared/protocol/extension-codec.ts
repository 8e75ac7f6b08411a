/**
 * The msgpack extension codec of the protocol: it knows exactly the two tensor extensions.
 *
 * Encoding: the frame encoder wraps every tensor in an OutgoingTensor, so the codec recognises
 * tensors by class (one instanceof per object) instead of guessing from shape, and ordinary maps
 * are never mistaken for tensors. Decoding: the codec only keeps the ext bytes (a WireTensor, no
 * copy); the validator decodes them once it knows the tensor's name, so every tensor error says
 * which tensor of which stream was wrong.
 */
import { ExtData, type ExtensionCodecType } from '@msgpack/msgpack';
import { CleaveError } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import { ExtType } from './constants.js';
import { encodeTensor, encodeTensorInt8, tryQuantizeInt8 } from './tensor-codec.js';

/** A tensor on its way out; `int8` asks for TENSOR_INT8 (honoured for finite float32 tensors only). */
export class OutgoingTensor {
  constructor(readonly tensor: HostTensor, readonly int8: boolean) {}
}

/** A tensor extension as read off the wire: its type and a view of its ext data. */
export class WireTensor {
  constructor(readonly type: number, readonly data: Uint8Array) {}
}

/** ExtensionCodecType for Cleave frames: TENSOR and TENSOR_INT8, nothing else (not even msgpack timestamps). */
export class TensorExtensionCodec implements ExtensionCodecType<undefined> {
  tryToEncode(object: unknown): ExtData | null {
    if (!(object instanceof OutgoingTensor)) return null;
    const t = object.tensor;
    if (object.int8 && t.dtype === 'float32') {
      // Tensors holding NaN or ±Infinity have no int8 form; they go as float32, losslessly.
      const q = tryQuantizeInt8(t);
      if (q !== undefined) return new ExtData(ExtType.TENSOR_INT8, (dataPos: number) => encodeTensorInt8(q, dataPos));
    }
    return new ExtData(ExtType.TENSOR, (dataPos: number) => encodeTensor(t, dataPos));
  }

  decode(data: Uint8Array, extType: number): unknown {
    if (extType === ExtType.TENSOR || extType === ExtType.TENSOR_INT8) return new WireTensor(extType, data);
    // scanFrame refuses other types first; this keeps the codec safe on its own.
    throw new CleaveError('CLEAVE_E_PROTOCOL', `extension type ${extType} is not a Cleave tensor; known: ${ExtType.TENSOR} (TENSOR), ${ExtType.TENSOR_INT8} (TENSOR_INT8)`, { extType });
  }
}
