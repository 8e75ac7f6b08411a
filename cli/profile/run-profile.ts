/**
 * `cleave profile` without the command line: profiles a model (a zoo name or an .onnx file) or a
 * workflow document on this machine's backends, and against a cloud and an edge node when their
 * URLs are given, and returns the report (report.ts). The command prints and writes it.
 */
import os from 'node:os';
import type { InferenceBackend } from '../../shared/backend/backend.js';
import { CleaveError } from '../../shared/errors.js';
import { nodeBackends } from '../backends.js';
import type { Progress } from '../progress.js';
import { readWorkflowFile, isWorkflowPath } from '../workflow-file.js';
import { cloudLink, measureRtt, openCloud, type CloudSession } from './cloud-probe.js';
import { DEFAULT_BATCHES, DEFAULT_RUNS, DEFAULT_WARMUP } from './measure.js';
import { profileModel, resolveModel, type ProfileModelOptions } from './profile-model.js';
import { profileWorkflow } from './profile-workflow.js';
import { recommend } from './recommend.js';
import { LINK_PROFILES, PROFILE_FORMAT, type CloudLink, type LinkProfile, type ProfileReport } from './report.js';


/** What to profile against. */
export interface RunProfileOptions {
  /** Rows per call, each profiled. Default [1, 8]. */
  readonly batches?: readonly number[];
  /** Measured calls per part and batch. Default 20. */
  readonly runs?: number;
  /** Uncounted calls first. Default 2. */
  readonly warmup?: number;
  /** Local backends by name; default every one that loads here (onnxruntime-node, onnxruntime-web). */
  readonly backends?: readonly string[];
  /** Cloud protocol URL (ws://host:port/v1/ws, or http://host:port). */
  readonly cloudUrl?: string;
  readonly cloudToken?: string;
  /** Edge node base URL (http://host:port). */
  readonly edgeUrl?: string;
  /** Sent to the edge as `Authorization: Bearer`. */
  readonly apiKey?: string;
  readonly progress?: Progress;
  /** ms. Default performance.now. */
  readonly now?: () => number;
}

/** The measured link as a link profile to price on. */
export function measuredLink(c: CloudLink): LinkProfile {
  return { name: 'measured', rttMs: c.rttMs, upBitsPerSec: c.upBitsPerSec, downBitsPerSec: c.downBitsPerSec, measured: true, ...(c.priorUsed ? { prior: true } : {}) };
}

/** Profiles `target`; see the file comment. */
export async function runProfile(target: string, opts: RunProfileOptions = {}): Promise<ProfileReport> {
  const batches = [...new Set(opts.batches ?? DEFAULT_BATCHES)].sort((a, b) => a - b);
  if (batches.length === 0 || batches.some((b) => !Number.isSafeInteger(b) || b < 1)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `batch sizes ${JSON.stringify(opts.batches)} are not valid; expected integers >= 1 such as 1,8,32`, { option: '--batches' });
  }
  const runs = opts.runs ?? DEFAULT_RUNS;
  const warmup = opts.warmup ?? DEFAULT_WARMUP;
  const registry = await nodeBackends();
  const backends: InferenceBackend[] = opts.backends ? opts.backends.map((n) => registry.get(n)) : [...registry.list()];
  const workflow = isWorkflowPath(target);
  // Read (and fail on) the document before connecting anywhere.
  const doc = workflow ? await readWorkflowFile(target) : undefined;

  let session: CloudSession | undefined;
  try {
    let rtt: Awaited<ReturnType<typeof measureRtt>> | undefined;
    if (opts.cloudUrl !== undefined) {
      session = await openCloud(opts.cloudUrl, opts.cloudToken);
      rtt = await measureRtt(session);
    }
    const modelOpts: ProfileModelOptions = {
      batches, runs, warmup, backends,
      ...(session ? { cloud: session } : {}),
      ...(opts.edgeUrl !== undefined ? { edgeUrl: opts.edgeUrl } : {}),
      ...(opts.apiKey !== undefined ? { edgeHeaders: { authorization: `Bearer ${opts.apiKey}` } } : {}),
      ...(opts.progress ? { progress: opts.progress } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    };
    // The measured link is read after the runs: they are what teach it the bandwidth.
    const price = (): { links: LinkProfile[]; cloud?: CloudLink } => {
      const cloud = session && rtt ? cloudLink(session, rtt) : undefined;
      return cloud ? { links: [...LINK_PROFILES, measuredLink(cloud)], cloud } : { links: [...LINK_PROFILES] };
    };
    const base = {
      format: PROFILE_FORMAT,
      createdAt: new Date().toISOString(),
      host: { platform: os.platform(), arch: os.arch(), cpus: os.availableParallelism(), node: process.version },
      settings: { batches, runs, warmup, backends: backends.map((b) => b.name) },
    } as const;
    if (workflow) {
      const w = await profileWorkflow(target, doc, () => price().links, modelOpts);
      return { ...base, ...price(), workflow: w };
    }
    const measured = await profileModel(await resolveModel(target, opts.progress), modelOpts);
    const priced = price();
    return { ...base, ...priced, model: { ...measured, recommendations: recommend(measured, priced.links) } };
  } finally {
    session?.close();
  }
}
