import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCleaveError } from '../../shared/errors.js';
import {
  formatServerTiming,
  parseServerTiming,
  sanitizeTimingDesc,
  TIMING,
  type TimingSegment,
} from '../../shared/server-timing.js';

describe('formatServerTiming', () => {
  it('writes name;dur;desc joined by ", "', () => {
    expect(
      formatServerTiming([
        { name: TIMING.cache, durMs: 0.25, desc: 'miss' },
        { name: TIMING.edge, durMs: 12 },
        { name: TIMING.total, durMs: 40.5 },
      ]),
    ).toBe('cache;dur=0.25;desc="miss", edge;dur=12, total;dur=40.5');
  });

  it('writes nothing for no segments', () => {
    expect(formatServerTiming([])).toBe('');
  });

  it.each([
    [1.23456, '1.235'],
    [1.2344, '1.234'],
    [0.0004, '0'],
    [0.0005, '0.001'],
    [100, '100'],
    [0, '0'],
    [-0, '0'],
    [-3.5, '0'], // clock skew between hosts: clamped, never negative
    [123456.7891, '123456.789'],
    [1e300, '1e+300'],
  ])('rounds dur %d to microseconds as %s', (durMs, want) => {
    expect(formatServerTiming([{ name: 'x', durMs }])).toBe(`x;dur=${want}`);
  });

  it.each([NaN, Infinity, -Infinity])('omits a non-finite dur (%d)', (durMs) => {
    expect(formatServerTiming([{ name: 'x', durMs }])).toBe('x');
    expect(formatServerTiming([{ name: 'x', durMs, desc: 'd' }])).toBe('x;desc="d"');
  });

  it('keeps a bare name', () => {
    expect(formatServerTiming([{ name: 'miss' }, { name: 'db', durMs: 53 }])).toBe('miss, db;dur=53');
  });

  it('quotes desc and escapes " and \\', () => {
    expect(formatServerTiming([{ name: 'x', desc: 'say "hi" \\o/' }])).toBe('x;desc="say \\"hi\\" \\\\o/"');
    expect(formatServerTiming([{ name: 'x', desc: '' }])).toBe('x;desc=""');
    expect(formatServerTiming([{ name: 'x', desc: 'a, b; c=d' }])).toBe('x;desc="a, b; c=d"');
  });

  it('replaces characters a header cannot carry in desc', () => {
    expect(formatServerTiming([{ name: 'x', desc: 'a\r\nb\u0000c\u007fé😀\td' }])).toBe('x;desc="a??b?c???\td"');
  });

  it.each(['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'a/b', 'é', 'a\tb', 'cache:hit'])('throws CLEAVE_E_BAD_ARGUMENT for the name %j', (name) => {
    try {
      formatServerTiming([{ name: 'ok' }, { name }]);
      expect.unreachable();
    } catch (e) {
      expect(isCleaveError(e, 'CLEAVE_E_BAD_ARGUMENT')).toBe(true);
      expect((e as Error).message).toContain(JSON.stringify(name));
    }
  });

  it('accepts every tchar in a name', () => {
    const name = "!#$%&'*+-.^_`|~09AZaz";
    expect(formatServerTiming([{ name }])).toBe(name);
    expect(parseServerTiming(name)).toEqual([{ name }]);
  });

  it('makes values the fetch Headers class accepts', () => {
    const h = new Headers();
    h.set('server-timing', formatServerTiming([{ name: 'x', durMs: 1, desc: '\u0000\n\r\u2028😀"\\' }]));
    expect(parseServerTiming(h.get('server-timing') ?? '')).toEqual([{ name: 'x', durMs: 1, desc: '?????"\\' }]);
  });

  it('uses the edge segment names', () => {
    expect(Object.values(TIMING)).toEqual(['cache', 'edge', 'link', 'cloud-queue', 'cloud-compute', 'total']);
    expect(() => formatServerTiming(Object.values(TIMING).map((name) => ({ name })))).not.toThrow();
  });
});

describe('parseServerTiming', () => {
  it.each<[string, TimingSegment[]]>([
    ['miss, db;dur=53, app;dur=47.2', [{ name: 'miss' }, { name: 'db', durMs: 53 }, { name: 'app', durMs: 47.2 }]],
    ['cache;desc="Cache Read";dur=23.2', [{ name: 'cache', desc: 'Cache Read', durMs: 23.2 }]],
    ['total;dur=123.4', [{ name: 'total', durMs: 123.4 }]],
    ['customView, dc;desc=atl', [{ name: 'customView' }, { name: 'dc', desc: 'atl' }]],
    ['  a ; dur = 1 ; desc = "x" ,b\t;\tdur=2  ', [{ name: 'a', durMs: 1, desc: 'x' }, { name: 'b', durMs: 2 }]],
    ['a;DUR=1;Desc=d', [{ name: 'a', durMs: 1, desc: 'd' }]],
    ['a;dur="2.5"', [{ name: 'a', durMs: 2.5 }]],
    ['a;desc="q\\"uo\\\\te"', [{ name: 'a', desc: 'q"uo\\te' }]],
    ['a;desc="with, comma; and semi"', [{ name: 'a', desc: 'with, comma; and semi' }]],
    ['', []],
    [' , ,, ', []],
    [',a,,b,', [{ name: 'a' }, { name: 'b' }]],
  ])('parses %j', (header, want) => {
    expect(parseServerTiming(header)).toEqual(want);
  });

  it('keeps the first dur and desc and ignores unknown params', () => {
    expect(parseServerTiming('a;dur=1;dur=2;desc=x;desc=y;region=eu;flag')).toEqual([{ name: 'a', durMs: 1, desc: 'x' }]);
    // A bad first dur still counts as the first.
    expect(parseServerTiming('a;dur=fast;dur=2')).toEqual([{ name: 'a' }]);
  });

  it.each([
    ['not a number', 'a;dur=abc'],
    ['hex', 'a;dur=0x10'],
    ['Infinity', 'a;dur=Infinity'],
    ['overflow', 'a;dur=1e999'],
    ['empty quoted', 'a;dur=""'],
  ])('drops a dur that is %s and keeps the entry', (_, header) => {
    expect(parseServerTiming(header)).toEqual([{ name: 'a' }]);
  });

  it.each<[string, string, TimingSegment[]]>([
    ['junk after the name', 'a b, c;dur=1', [{ name: 'c', durMs: 1 }]],
    ['no name', ';dur=1, c', [{ name: 'c' }]],
    ['a quoted name', '"a";dur=1, c', [{ name: 'c' }]],
    ['a param without a name', 'a;=5, c', [{ name: 'c' }]],
    ['an empty param value', 'a;dur=, c', [{ name: 'c' }]],
    ['junk after a param', 'a;dur=1 x;desc=y, c', [{ name: 'c' }]],
    ['junk after a quoted value', 'a;desc="x"y, c', [{ name: 'c' }]],
    ['a comma inside the skipped quoted junk', 'a b "x, y", c', [{ name: 'c' }]],
    ['an unclosed quoted-string', 'c, a;desc="never closed, d', [{ name: 'c' }]],
    ['a trailing backslash in a quoted-string', 'c, a;desc="x\\', [{ name: 'c' }]],
    ['a non-token name', 'é;dur=1, c', [{ name: 'c' }]],
  ])('skips an entry with %s', (_, header, want) => {
    expect(parseServerTiming(header)).toEqual(want);
  });

  it('returns at most maxSegments metrics', () => {
    const header = Array.from({ length: 100 }, (_, i) => `m${i}`).join(', ');
    expect(parseServerTiming(header)).toHaveLength(64);
    expect(parseServerTiming(header, { maxSegments: 3 })).toEqual([{ name: 'm0' }, { name: 'm1' }, { name: 'm2' }]);
  });

  it('survives hostile input in linear time', () => {
    const hostile = [
      ';'.repeat(1 << 20),
      '"'.repeat(1 << 20),
      'a;desc="' + '\\'.repeat(1 << 20),
      ('a;' + 'x=1;'.repeat(1000) + ' junk,').repeat(200),
      ', '.repeat(1 << 19),
      'a' + ' '.repeat(1 << 20) + 'b',
    ];
    const start = performance.now();
    for (const h of hostile) expect(() => parseServerTiming(h)).not.toThrow();
    expect(performance.now() - start).toBeLessThan(5000);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(Array.isArray(parseServerTiming(s))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('round trip', () => {
  const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
  const name = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 16 });
  // Finite, >= 0, already on the microsecond grid so formatting loses nothing.
  const durMs = fc.integer({ min: 0, max: 3_600_000_000 }).map((us) => us / 1000);

  function segment(desc: fc.Arbitrary<string>): fc.Arbitrary<TimingSegment> {
    return fc.record({ name, durMs, desc }, { requiredKeys: ['name'] });
  }

  it('parse(format(x)) is x for names from the token alphabet and printable descs', () => {
    fc.assert(
      fc.property(fc.array(segment(fc.string()), { maxLength: 10 }), (segs) => {
        expect(parseServerTiming(formatServerTiming(segs))).toEqual(segs);
      }),
      { numRuns: 1000 },
    );
  });

  it('parse(format(x)) is x with desc sanitised, for any desc, and Headers accepts the value', () => {
    fc.assert(
      fc.property(fc.array(segment(fc.string({ unit: 'binary' })), { maxLength: 10 }), (segs) => {
        const value = formatServerTiming(segs);
        const h = new Headers({ 'server-timing': value });
        const want = segs.map((s) => (s.desc === undefined ? s : { ...s, desc: sanitizeTimingDesc(s.desc) }));
        expect(parseServerTiming(h.get('server-timing') ?? '')).toEqual(want);
      }),
      { numRuns: 1000 },
    );
  });
});
