/**
 * Protocol codec throughput: a RUN frame carrying one float32 tensor of 1 KB, 64 KB and 4 MB,
 * encoded and decoded (FrameEncoder + FrameDecoder, the path every cloud request takes), against
 * the baseline of a plain memory copy of the same bytes into a fresh buffer, and against JSON
 * (what a KServe v2 JSON client sends) for the same payload. Every ratio uses the copy measured
 * in the same run; variants are interleaved round by round so machine noise hits them alike.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameType } from '../shared/protocol/constants.js';
import { FrameDecoder, FrameEncoder } from '../shared/protocol/frame-codec.js';
import type { RunFrame } from '../shared/protocol/frames.js';
import { createRng } from '../shared/rng.js';
import { hostTensor } from '../shared/tensor.js';
import { median } from './stats.js';

export interface CodecBenchOptions {
  readonly quick: boolean;
  readonly out?: string;
  readonly log?: (line: string) => void;
}

export interface CodecBenchRow {
  readonly payloadBytes: number;
  readonly variant: 'memcpy' | 'msgpack' | 'msgpack-int8' | 'json';
  /** Payload bytes through encode+decode per second (median over rounds), MB/s. */
  readonly mbPerS: number;
  /** Throughput relative to memcpy in the same run. */
  readonly vsMemcpy: number;
  /** Encoded size relative to the raw payload. */
  readonly wireRatio: number;
}

const SIZES = [1024, 64 * 1024, 4 * 1024 * 1024];

export async function runCodecBench(opts: CodecBenchOptions): Promise<CodecBenchRow[]> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const rounds = opts.quick ? 7 : 21;
  const encoder = new FrameEncoder();
  const decoder = new FrameDecoder({});
  const rng = createRng(7);
  const rows: CodecBenchRow[] = [];
  let sink = 0;
  for (const bytes of SIZES) {
    const n = bytes / 4;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.normal();
    const frame: RunFrame = { t: FrameType.RUN, id: 1, model: 'bench', inputs: { x: hostTensor('float32', [1, n], data) } };
    const raw = new Uint8Array(data.buffer);
    // Enough repetitions that one timed block takes a few ms even for 1 KB.
    const reps = Math.max(2, Math.round((opts.quick ? 16 : 64) * 1024 * 1024 / bytes));
    const variants = {
      memcpy: (): number => {
        const dst = new Uint8Array(bytes);
        dst.set(raw);
        return dst[bytes - 1]!;
      },
      msgpack: (): number => {
        const f = decoder.decode(encoder.encode(frame));
        return f.t === FrameType.RUN ? f.inputs.x!.data.length : 0;
      },
      'msgpack-int8': (): number => {
        const f = decoder.decode(encoder.encode(frame, { int8Floats: true }));
        return f.t === FrameType.RUN ? f.inputs.x!.data.length : 0;
      },
      json: (): number => {
        const s = JSON.stringify({ name: 'x', shape: [1, n], datatype: 'FP32', data: Array.from(data) });
        return (JSON.parse(s) as { data: number[] }).data.length;
      },
    } as const;
    const names = Object.keys(variants) as (keyof typeof variants)[];
    const jsonReps = Math.max(1, Math.round(reps / 40));
    const wire = {
      memcpy: 1,
      msgpack: encoder.encode(frame).length / bytes,
      'msgpack-int8': encoder.encode(frame, { int8Floats: true }).length / bytes,
      json: new TextEncoder().encode(JSON.stringify({ data: Array.from(data) })).length / bytes,
    };
    const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + r) % names.length]!;
        const fn = variants[name];
        const count = name === 'json' ? jsonReps : reps;
        const t0 = performance.now();
        for (let i = 0; i < count; i++) sink += fn();
        const ms = performance.now() - t0;
        samples[name]!.push((count * bytes) / 1e6 / (ms / 1000));
      }
    }
    const base = median(samples.memcpy!);
    for (const name of names) {
      const mbPerS = median(samples[name]!);
      rows.push({ payloadBytes: bytes, variant: name, mbPerS, vsMemcpy: mbPerS / base, wireRatio: wire[name] });
    }
  }
  if (sink === -1) log('');
  log('codec: encode+decode of a RUN frame with one float32 tensor, MB/s of payload (median of rounds)');
  log('payload    variant        MB/s      vs memcpy  wire/raw');
  for (const r of rows) {
    log(`${fmtBytes(r.payloadBytes).padEnd(10)} ${r.variant.padEnd(13)} ${r.mbPerS.toFixed(0).padStart(8)}   ${r.vsMemcpy.toFixed(3).padStart(8)}x  ${r.wireRatio.toFixed(3)}`);
  }
  const big = rows.find((r) => r.payloadBytes === 4 * 1024 * 1024 && r.variant === 'msgpack');
  if (big) log(`goal: msgpack >= 0.3x memcpy at 4 MB: ${big.vsMemcpy.toFixed(3)}x ${big.vsMemcpy >= 0.3 ? 'MET' : 'MISSED'}`);
  const out = opts.out ?? fileURLToPath(new URL('./results/codec.json', import.meta.url));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 1)}\n`);
  log(`raw results: ${out}`);
  return rows;
}

function fmtBytes(b: number): string {
  return b >= 1024 * 1024 ? `${b / 1024 / 1024} MB` : `${b / 1024} KB`;
}
