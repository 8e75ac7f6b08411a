// StageRef `id` and `inputs` on the wire: they round-trip through the codec in canonical order,
// old StageRefs encode exactly as before, and malformed ones are refused with the field named.
import { Encoder } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { CleaveError } from '../../../shared/errors.js';
import { MAX_POOL_KEY_LENGTH, STAGE_ID_PATTERN } from '../../../shared/protocol/frame-schema.js';
import { Capability, DEFAULT_LIMITS, FrameType, decodeFrame, encodeFrame, type RunFrame, type WelcomeFrame } from '../../../shared/protocol/index.js';
import { ServerSession, type RunService } from '../../../shared/protocol/server-session.js';
import { ManualClock } from '../../../shared/time.js';
import { NODE_ID_PATTERN } from '../../../shared/workflow/definition.js';
import { cleaveErrorOf } from '../../helpers/errors.js';

const raw = new Encoder();

function run(stages: unknown[], extra: Record<string, unknown> = {}): Uint8Array {
  return raw.encode({ t: FrameType.RUN, id: 9, model: 'wf', stages, inputs: {}, ...extra });
}

function err(bytes: Uint8Array): CleaveError {
  return cleaveErrorOf(() => decodeFrame(bytes));
}

describe('StageRef id and inputs', () => {
  it('round-trip, with the mapping as a null-prototype map', () => {
    const frame: RunFrame = {
      t: FrameType.RUN, id: 3, model: 'two-heads',
      stages: [
        { model: 'cnn-small', id: 'a', inputs: { image: 'input.image' } },
        { model: 'cnn-large', version: 2, id: 'b_2', inputs: { image: 'input.image' } },
        { model: 'mlp-small' },
      ],
      inputs: {}, outputs: ['a.logits', 'b_2.logits'],
    };
    const back = decodeFrame(encodeFrame(frame)) as RunFrame;
    expect(back).toEqual(frame);
    expect(Object.getPrototypeOf(back.stages![0]!.inputs)).toBeNull();
  });

  it('encode in canonical order whatever order the caller wrote, and leave old StageRefs byte-identical', () => {
    const a = encodeFrame({ t: FrameType.RUN, id: 1, model: 'm', inputs: {}, stages: [{ inputs: { x: 'p.y' }, id: 's', version: 1, model: 'mlp' }] } as RunFrame);
    const b = encodeFrame({ t: FrameType.RUN, id: 1, model: 'm', inputs: {}, stages: [{ model: 'mlp', version: 1, id: 's', inputs: { x: 'p.y' } }] });
    expect(a).toEqual(b);
    const old = { t: FrameType.RUN, id: 1, model: 'm', inputs: {}, stages: [{ model: 'mlp', version: 1 }] } as const;
    expect(encodeFrame(old)).toEqual(raw.encode({ t: 3, id: 1, model: 'm', stages: [{ model: 'mlp', version: 1 }], inputs: {} }));
  });

  it('accepts every workflow node id as a stage id, and no id with a dot', () => {
    for (const id of ['asr', '_tmp', 'node_12', 'X'.repeat(64)]) {
      expect(NODE_ID_PATTERN.test(id)).toBe(true);
      expect(STAGE_ID_PATTERN.test(id)).toBe(true);
    }
    for (const id of ['a.b', '', '-x', 'x'.repeat(65), 'a b', 'é']) expect(STAGE_ID_PATTERN.test(id)).toBe(false);
  });

  it('refuses a bad id, naming the stage field', () => {
    const e = err(run([{ model: 'm', id: 'a.b' }]));
    expect(e.code).toBe('CLEAVE_E_PROTOCOL');
    expect(e.message).toBe('RUN (id 9): field "stages[0].id" must be a stage id: 1 to 64 of A-Z a-z 0-9 _ - (no dots), not starting with -, got "a.b" (string)');
    expect(e.detail).toMatchObject({ t: 3, id: 9, field: 'stages[0].id' });
    expect(err(run([{ model: 'm', id: 7 }])).message).toContain('field "stages[0].id" must be a stage id');
    expect(err(run([{ model: 'm' }, { model: 'n', id: '' }])).detail.field).toBe('stages[1].id');
  });

  it('refuses a repeated id', () => {
    const e = err(run([{ model: 'm', id: 'a' }, { model: 'n' }, { model: 'o', id: 'a' }]));
    expect(e.code).toBe('CLEAVE_E_PROTOCOL');
    expect(e.message).toBe('RUN (id 9): field "stages[2].id" repeats the id "a" of stages[0]; stage ids must be unique in a run');
    expect(e.detail).toMatchObject({ t: 3, id: 9, field: 'stages[2].id' });
  });

  it('refuses a mapping that is not a map of non-empty names', () => {
    expect(err(run([{ model: 'm', inputs: ['x'] }])).message).toBe('RUN (id 9): field "stages[0].inputs" must be a map of name to name, got an array of 1');
    expect(err(run([{ model: 'm', inputs: { x: 3 } }])).message).toBe('RUN (id 9): field "stages[0].inputs["x"]" must be a string of 1 to 256 characters, got 3 (number)');
    expect(err(run([{ model: 'm', inputs: { x: '' } }])).detail.field).toBe('stages[0].inputs["x"]');
    const emptyKey = err(run([{ model: 'm', inputs: { '': 'y' } }]));
    expect(emptyKey.message).toBe('RUN (id 9): field "stages[0].inputs" has a name of 0 characters, expected 1 to 256');
  });

  it('limits key lengths and the number of entries', () => {
    const long = 'k'.repeat(MAX_POOL_KEY_LENGTH + 1);
    expect(err(run([{ model: 'm', inputs: { [long]: 'y' } }])).message).toContain(`has a name of ${MAX_POOL_KEY_LENGTH + 1} characters, expected 1 to ${MAX_POOL_KEY_LENGTH}`);
    expect(err(run([{ model: 'm', inputs: { x: long } }])).code).toBe('CLEAVE_E_PROTOCOL');
    const fits = decodeFrame(run([{ model: 'm', inputs: { x: 'k'.repeat(MAX_POOL_KEY_LENGTH) } }])) as RunFrame;
    expect(fits.stages![0]!.inputs!.x).toHaveLength(MAX_POOL_KEY_LENGTH);
    const many = Object.fromEntries(Array.from({ length: DEFAULT_LIMITS.maxTensors + 1 }, (_, i) => [`in${i}`, `p${i}`]));
    const e = err(run([{ model: 'm', inputs: many }]));
    expect(e.code).toBe('CLEAVE_E_TOO_LARGE');
    expect(e.detail).toMatchObject({ t: 3, id: 9, field: 'stages[0].inputs', limit: 'maxTensors', value: DEFAULT_LIMITS.maxTensors + 1 });
  });

  it('refuses "__proto__" as a mapped name on both sides of the codec', () => {
    const inputs: Record<string, unknown> = Object.defineProperty({}, '__proto__', { value: 'x', enumerable: true });
    expect(err(run([{ model: 'm', inputs }])).message).toMatch(/map key "__proto__" at offset \d+ is not allowed/);
    const e = cleaveErrorOf(() => encodeFrame({ t: FrameType.RUN, id: 1, model: 'm', inputs: {}, stages: [{ model: 'm', inputs: inputs as Record<string, string> }] }));
    expect(e.code).toBe('CLEAVE_E_BAD_ARGUMENT');
  });

});

describe('the stage-io capability', () => {
  function welcomeCaps(service: RunService): readonly string[] {
    const clock = new ManualClock();
    const sent: Uint8Array[] = [];
    const session = new ServerSession({ send: (b) => sent.push(b), close: () => undefined }, {
      id: 's', service, metrics: { streams: () => undefined, protocolError: () => undefined },
      clock, wallClock: clock, timers: clock, limits: DEFAULT_LIMITS, serverName: 'test', device: 'cpu',
      offers: () => [], authenticated: true,
    });
    session.receive(encodeFrame({ t: FrameType.HELLO, minVersion: 1, maxVersion: 1, client: 't', caps: [] }));
    session.closed();
    const w = decodeFrame(sent[0]!) as WelcomeFrame;
    expect(w.t).toBe(FrameType.WELCOME);
    return w.caps;
  }
  const base: RunService = { infer: () => ({ promise: new Promise(() => undefined), cancel: () => false }), loadReport: () => ({}) };

  it('is offered with subgraph by a server that runs subgraphs', () => {
    expect(Capability.STAGE_IO).toBe('stage-io');
    expect(welcomeCaps({ ...base, runStages: base.infer as unknown as NonNullable<RunService['runStages']> })).toEqual(expect.arrayContaining(['subgraph', 'stage-io']));
  });

  it('is not offered, nor subgraph, by one that refuses RUNs with stages (the edge)', () => {
    const caps = welcomeCaps(base);
    expect(caps).not.toContain('stage-io');
    expect(caps).not.toContain('subgraph');
    expect(caps).toContain('int8-tensors');
  });
});
