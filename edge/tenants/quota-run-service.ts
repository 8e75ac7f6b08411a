/**
 * The tenant's quotas on the client WebSocket: each RUN takes a rate token and a concurrency slot
 * as an HTTP request would, and gives the slot back when its result or error is settled. A RUN
 * over quota is answered with an ERROR frame for that stream (CLEAVE_E_RATE_LIMITED with
 * `retryAfterS`); the connection stays open. Runtime-neutral.
 */
import type { RunService, ServiceRunHandle, ServiceStagesRequest } from '../../shared/protocol/server-session.js';
import type { Principal } from './key-registry.js';
import type { TenantGuard } from './tenant-guard.js';

/** `base` with every run admitted by `guard` for `principal`. */
export function quotaRunService(base: RunService, guard: TenantGuard, principal: Principal): RunService {
  const admitted = (start: () => ServiceRunHandle): ServiceRunHandle => {
    let release: () => void;
    try {
      guard.admitRate(principal);
      release = guard.acquire(principal);
    } catch (e) {
      return { promise: Promise.reject(e as Error), cancel: () => false };
    }
    let handle: ServiceRunHandle;
    try {
      handle = start();
    } catch (e) {
      release();
      throw e;
    }
    handle.promise.then(release, release);
    return handle;
  };
  const runStages = base.runStages?.bind(base);
  return {
    ...base,
    loadReport: () => base.loadReport(),
    infer: (r) => admitted(() => base.infer(r)),
    ...(runStages ? { runStages: (r: ServiceStagesRequest) => admitted(() => runStages(r)) } : {}),
  };
}
