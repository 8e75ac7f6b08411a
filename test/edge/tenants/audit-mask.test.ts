// The audit log's ring and sink, catalog events as audit entries, and log masking.
import { describe, expect, it } from 'vitest';
import { MemoryAuditLog } from '../../../edge/tenants/audit-log.js';
import { auditCatalogEvents } from '../../../edge/tenants/edge-security.js';
import { logMasker, MASKED, maskedLog } from '../../../edge/tenants/log-masker.js';

describe('MemoryAuditLog', () => {
  it('stamps, forwards to the sink and keeps the newest entries, filtered on request', () => {
    let t = Date.UTC(2026, 10, 21, 4, 0, 0);
    const lines: Record<string, unknown>[] = [];
    const log = new MemoryAuditLog({ wallClock: { now: () => t }, capacity: 3, sink: (e) => lines.push(e) });
    log.append({ tenant: 'a', action: 'workflow.deploy', target: 'workflow/x@1', outcome: 'ok' });
    t += 1000;
    log.append({ tenant: 'b', keyId: 'k', action: 'workflow.delete', target: 'workflow/x', outcome: 'error', code: 'CLEAVE_E_NOT_FOUND', requestId: 'r1' });
    log.append({ tenant: 'system', action: 'model.load', target: 'model/m@1', outcome: 'ok' });
    log.append({ tenant: 'a', action: 'workflow.deploy', target: 'workflow/y@1', outcome: 'ok' });
    expect(lines).toHaveLength(4);
    expect(lines[1]).toEqual({ event: 'audit', at: '2026-11-21T04:00:01.000Z', tenant: 'b', keyId: 'k', action: 'workflow.delete', target: 'workflow/x', outcome: 'error', code: 'CLEAVE_E_NOT_FOUND', requestId: 'r1' });
    // Capacity 3: the first entry is gone from the ring.
    expect(log.recent().map((e) => e.target)).toEqual(['workflow/y@1', 'model/m@1', 'workflow/x']);
    expect(log.recent({ limit: 1 }).map((e) => e.target)).toEqual(['workflow/y@1']);
    expect(log.recent({ tenant: 'a' }).map((e) => e.target)).toEqual(['workflow/y@1']);
    expect(log.recent({ action: 'model.load' }).map((e) => e.tenant)).toEqual(['system']);
    expect(() => new MemoryAuditLog({ wallClock: { now: () => 0 }, capacity: 0 })).toThrow(/capacity 0/);
  });

  it('records edge model loads, failed loads and unloads as system actions', () => {
    const log = new MemoryAuditLog({ wallClock: { now: () => 0 } });
    const on = auditCatalogEvents(log);
    on({ type: 'load', model: 'mlp-small', version: 1 });
    on({ type: 'load-failed', model: 'bad', version: 2, error: 'protobuf parsing failed' });
    on({ type: 'unload', model: 'mlp-small', version: 1 });
    expect(log.recent().map(({ at: _at, ...e }) => e)).toEqual([
      { tenant: 'system', action: 'model.unload', target: 'model/mlp-small@1', outcome: 'ok' },
      { tenant: 'system', action: 'model.load', target: 'model/bad@2', outcome: 'error', code: 'CLEAVE_E_BACKEND', detail: { error: 'protobuf parsing failed' } },
      { tenant: 'system', action: 'model.load', target: 'model/mlp-small@1', outcome: 'ok' },
    ]);
  });
});

describe('log masking', () => {
  it('masks the named fields at any depth, case-insensitively, without touching the original', () => {
    const mask = logMasker(['authorization', 'apiKey', 'input']);
    const event = {
      event: 'request', headers: { Authorization: 'Bearer ck_k1_secret', accept: '*/*' },
      body: { input: [1, 2, 3], nested: [{ APIKEY: 'x', keep: 1 }] }, apiKey: 'ck_k2_secret',
    };
    const copy = structuredClone(event);
    expect(mask(event)).toEqual({
      event: 'request', headers: { Authorization: MASKED, accept: '*/*' },
      body: { input: MASKED, nested: [{ APIKEY: MASKED, keep: 1 }] }, apiKey: MASKED,
    });
    expect(event).toEqual(copy);
  });

  it('is the identity without fields, survives cycles and keeps "__proto__" a plain key', () => {
    const same = { a: 1 };
    expect(logMasker([])(same)).toBe(same);
    expect(logMasker([' ', ''])(same)).toBe(same);
    const cyclic: Record<string, unknown> = { token: 't' };
    cyclic.self = cyclic;
    const out = logMasker(['token'])(cyclic);
    expect(out.token).toBe(MASKED);
    expect(JSON.stringify(out)).toContain('[too deep]');
    const hostile = JSON.parse('{"__proto__": {"secret": "s"}, "x": 1}') as Record<string, unknown>;
    const masked = logMasker(['secret'])(hostile);
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(JSON.stringify(masked)).toBe('{"__proto__":{"secret":"***"},"x":1}');
  });

  it('wraps a log function; no function or no fields leaves it as it was', () => {
    const seen: Record<string, unknown>[] = [];
    const log = (e: Record<string, unknown>): void => { seen.push(e); };
    maskedLog(log, ['input'])!({ input: 'x', y: 2 });
    expect(seen).toEqual([{ input: MASKED, y: 2 }]);
    expect(maskedLog(undefined, ['input'])).toBeUndefined();
    expect(maskedLog(log, [])).toBe(log);
  });
});
