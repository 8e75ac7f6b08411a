import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availableProviders, CUDA_INSTALL_COMMAND, parseDevice, providerLibraryPath, resolveDevice, type DeviceRequest } from '../../cloud/device.js';
import { CleaveError } from '../../shared/errors.js';

describe('resolveDevice', () => {
  const table: [DeviceRequest, string[], 'cuda' | 'cpu', string[], RegExp][] = [
    ['auto', ['cpu', 'webgpu', 'cuda'], 'cuda', ['cuda', 'cpu'], /auto: onnxruntime-node has the CUDA provider \(providers: cpu, webgpu, cuda\)/],
    ['auto', ['cpu', 'webgpu'], 'cpu', ['cpu'], /auto: no CUDA provider in onnxruntime-node \(providers: cpu, webgpu\); using cpu/],
    ['auto', [], 'cpu', ['cpu'], /providers: none/],
    ['cuda', ['cpu', 'cuda'], 'cuda', ['cuda', 'cpu'], /cuda requested/],
    ['cpu', ['cpu', 'cuda'], 'cpu', ['cpu'], /cpu requested/],
  ];
  for (const [requested, available, device, providers, reason] of table) {
    it(`${requested} with [${available.join(', ')}] -> ${device}`, () => {
      const d = resolveDevice(requested, available);
      expect(d.device).toBe(device);
      expect(d.executionProviders).toEqual(providers);
      expect(d.reason).toMatch(reason);
    });
  }

  it('auto without CUDA says how to get it', () => {
    expect(resolveDevice('auto', ['cpu']).reason).toContain(CUDA_INSTALL_COMMAND);
  });

  it('cuda requested but missing is CLEAVE_E_BACKEND with the install command', () => {
    let err: unknown;
    try {
      resolveDevice('cuda', ['cpu', 'webgpu']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CleaveError);
    const e = err as CleaveError;
    expect(e.code).toBe('CLEAVE_E_BACKEND');
    expect(e.message).toContain('no usable CUDA provider (providers: cpu, webgpu)');
    expect(e.message).toContain('npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12');
  });
});

describe('parseDevice', () => {
  it('takes auto, cuda and cpu in any case', () => {
    expect(parseDevice('auto')).toBe('auto');
    expect(parseDevice(' CUDA ')).toBe('cuda');
    expect(parseDevice('cpu')).toBe('cpu');
  });

  it('rejects anything else, naming the value and the choices', () => {
    for (const bad of ['gpu', '', 'cuda12']) {
      expect(() => parseDevice(bad)).toThrow(expect.objectContaining({ code: 'CLEAVE_E_BAD_ARGUMENT', message: `device ${JSON.stringify(bad)} is not one of auto, cuda, cpu` }));
    }
  });
});

describe('availableProviders', () => {
  it('asks the installed onnxruntime-node: cpu always, cuda only with its provider library', async () => {
    const p = await availableProviders();
    expect(p).toContain('cpu');
    if (!existsSync(providerLibraryPath('cuda'))) expect(p).not.toContain('cuda');
  });
});
