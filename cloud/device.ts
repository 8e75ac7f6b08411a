/**
 * Which device the cloud runs models on. `resolveDevice` is a pure decision over the provider
 * names the installed onnxruntime-node can use, so it is tested as a table; `availableProviders`
 * is the one Node-only probe that asks onnxruntime-node and looks for the CUDA provider files.
 *
 * Why look for files: onnxruntime-node 1.30's `listSupportedBackends()` names every provider
 * the binary was compiled for, including 'cuda' and 'tensorrt' with `bundled: false`, whether or
 * not their libraries were downloaded. The npm package carries only the CPU libraries; the CUDA
 * ones arrive with the install step the README describes, next to the binding.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CleaveError } from '../shared/errors.js';

/** What an operator asks for: `CLEAVE_DEVICE` / `--device`. */
export type DeviceRequest = 'auto' | 'cuda' | 'cpu';

/** Where models run. */
export type Device = 'cuda' | 'cpu';

/** Accepted DeviceRequest values. */
export const DEVICE_REQUESTS: readonly DeviceRequest[] = ['auto', 'cuda', 'cpu'];

/** The command that installs onnxruntime-node's CUDA 12 provider (README, "GPU hosts"). */
export const CUDA_INSTALL_COMMAND = 'npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12';

/** The device chosen, the providers to pass as LoadOptions.executionProviders, and why (for the startup log). */
export interface DeviceChoice {
  readonly device: Device;
  /** In preference order. CUDA keeps 'cpu' after it: onnxruntime places the nodes CUDA has no kernel for on the CPU. */
  readonly executionProviders: string[];
  readonly reason: string;
}

/** Parses a device request (case and surrounding space ignored). Throws CLEAVE_E_BAD_ARGUMENT naming the value. */
export function parseDevice(s: string): DeviceRequest {
  const v = s.trim().toLowerCase();
  if ((DEVICE_REQUESTS as readonly string[]).includes(v)) return v as DeviceRequest;
  throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `device ${JSON.stringify(s)} is not one of ${DEVICE_REQUESTS.join(', ')}`, { device: s });
}

/**
 * Chooses the device. `available` is what availableProviders() found ('cpu', 'cuda', ...).
 * auto: CUDA when available, else CPU. cuda: CUDA, or CLEAVE_E_BACKEND saying how to install
 * it (no silent fallback: an operator who asked for a GPU wants to know). cpu: CPU.
 */
export function resolveDevice(requested: DeviceRequest, available: readonly string[]): DeviceChoice {
  const has = available.length ? available.join(', ') : 'none';
  const cuda = available.includes('cuda');
  switch (requested) {
    case 'cpu':
      return { device: 'cpu', executionProviders: ['cpu'], reason: `device cpu requested (onnxruntime-node providers: ${has})` };
    case 'cuda':
      if (cuda) return { device: 'cuda', executionProviders: ['cuda', 'cpu'], reason: `device cuda requested and onnxruntime-node has the CUDA provider (providers: ${has})` };
      throw new CleaveError(
        'CLEAVE_E_BACKEND',
        `device cuda requested, but the installed onnxruntime-node has no usable CUDA provider (providers: ${has}). ` +
          `On a host with an NVIDIA driver and CUDA 12, install it with: ${CUDA_INSTALL_COMMAND} ; or start with device auto or cpu`,
        { device: 'cuda', available: [...available] },
      );
    case 'auto':
      return cuda
        ? { device: 'cuda', executionProviders: ['cuda', 'cpu'], reason: `device auto: onnxruntime-node has the CUDA provider (providers: ${has}); using cuda` }
        : { device: 'cpu', executionProviders: ['cpu'], reason: `device auto: no CUDA provider in onnxruntime-node (providers: ${has}); using cpu. For a GPU, run: ${CUDA_INSTALL_COMMAND}` };
  }
}

const require = createRequire(import.meta.url);

/** Folder of onnxruntime-node's native binding for this platform, where provider libraries are installed. */
function bindingDir(): string {
  return path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Path where onnxruntime-node keeps the shared library of execution provider `name` on this platform. */
export function providerLibraryPath(name: string): string {
  const file = process.platform === 'win32'
    ? `onnxruntime_providers_${name}.dll`
    : `libonnxruntime_providers_${name}.${process.platform === 'darwin' ? 'dylib' : 'so'}`;
  return path.join(bindingDir(), file);
}

/** An NVIDIA driver is visible (Linux device nodes or /proc entry; WSL2's /dev/dxg). Assumed elsewhere. */
function nvidiaDriverVisible(): boolean {
  if (process.platform !== 'linux') return true;
  return ['/proc/driver/nvidia/version', '/dev/nvidiactl', '/dev/dxg'].some((p) => existsSync(p));
}

/**
 * Execution providers the installed onnxruntime-node can use here: those bundled in the package,
 * plus 'cuda' / 'tensorrt' when their provider library is installed and an NVIDIA driver is
 * visible. ['cpu'] when onnxruntime-node does not export listSupportedBackends.
 */
export async function availableProviders(): Promise<string[]> {
  const ort = (await import('onnxruntime-node')) as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] };
  const listed = ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
  return listed
    .filter((b) => b.bundled || (existsSync(providerLibraryPath(b.name)) && nvidiaDriverVisible()))
    .map((b) => b.name);
}
