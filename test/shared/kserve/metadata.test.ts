import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { errorBody, modelMetadata, serverMetadata } from '../../../shared/kserve/metadata.js';
import type { ModelOffer } from '../../../shared/protocol/frames.js';

const offer: ModelOffer = {
  name: 'cnn-small',
  version: 2,
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }, { name: 'ids', dtype: 'int64', shape: [-1] }],
  maxBatchSize: 8,
};

describe('v2 metadata documents', () => {
  it('server metadata', () => {
    const ext = ['binary_tensor_data'];
    const m = serverMetadata({ name: 'cleave', version: '0.1.0', extensions: ext });
    ext.push('later');
    expect(JSON.stringify(m)).toBe('{"name":"cleave","version":"0.1.0","extensions":["binary_tensor_data"]}');
  });

  it('model metadata with -1 for dynamic dims', () => {
    expect(modelMetadata(offer)).toEqual({
      name: 'cnn-small',
      versions: ['2'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 3, 64, 64] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }, { name: 'ids', datatype: 'INT64', shape: [-1] }],
    });
    const m = modelMetadata(offer, 'onnxruntime_web', ['1', '2']);
    expect(m.platform).toBe('onnxruntime_web');
    expect(m.versions).toEqual(['1', '2']);
  });

  it('error body carries both the KServe `error` and the Cleave code', () => {
    const e = new CleaveError('CLEAVE_E_SHAPE', 'input "image" of model "cnn-small" has shape [1,3,32,32], model expects [N,3,64,64]', { input: 'image' });
    expect(errorBody(e)).toEqual({
      error: e.message,
      code: 'CLEAVE_E_SHAPE',
      message: e.message,
      detail: { input: 'image' },
    });
  });
});
