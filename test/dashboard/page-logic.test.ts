/**
 * The pure parts of the dashboard page: reading placements from the plan header and from node
 * reports, merging the page's own run with the edge's statistics, sample inputs, and the JSON
 * editor's error positions.
 */
import { describe, expect, it } from 'vitest';
import { jsonSyntaxError, parseJson } from '../../dashboard/page/json-text.js';
import { explanationTerms, parsePlacement, parsePlanHeader, placementLabel, placementsFromReports } from '../../dashboard/page/placement.js';
import { MAX_SAMPLE_ELEMENTS, sampleInputs, SampleInputError } from '../../dashboard/page/sample-inputs.js';
import { quantile } from '../../dashboard/page/quantile.js';

describe('placements', () => {
  it('reads x-cleave-plan: placements, cuts with int8, the exit and degraded marks', () => {
    const m = parsePlanHeader('small=edge, big=cut:block3.pool_out+int8!, nlu=cloud~');
    expect(m.get('small')).toEqual({ kind: 'edge', raw: 'edge' });
    expect(m.get('big')).toEqual({ kind: 'exit', raw: 'cut:block3.pool_out+int8', cut: 'block3.pool_out', int8: true, exited: true });
    expect(m.get('nlu')).toEqual({ kind: 'cloud', raw: 'cloud', degraded: true });
    expect(placementLabel(m.get('big')!)).toBe('cut at block3.pool_out (int8) · exited');
    expect(parsePlanHeader('garbage, =x, a=edge').size).toBe(1);
    expect(parsePlanHeader(null).size).toBe(0);
  });

  it('reads node reports: skipped nodes, inline glue, the report form of an int8 cut', () => {
    const m = placementsFromReports([
      { node: 'small', status: 'done', placement: 'edge' },
      { node: 'big', status: 'skipped' },
      { node: 'reply', status: 'done', placement: 'inline' },
      { node: 'cut', status: 'done', placement: 'cut:x int8', degraded: { reason: 'down', standIn: 'm' } },
    ]);
    expect([...m].map(([k, v]) => [k, v.kind])).toEqual([['small', 'edge'], ['big', 'skipped'], ['reply', 'inline'], ['cut', 'cut']]);
    expect(m.get('cut')).toMatchObject({ cut: 'x', int8: true, degraded: true });
  });

  it('treats the data API\'s lastPlacement values, null included', () => {
    expect(parsePlacement(null).kind).toBe('none');
    expect(parsePlacement('exit').kind).toBe('exit');
    expect(parsePlacement('skipped').kind).toBe('skipped');
    expect(parsePlacement('cut:head.gap_out').cut).toBe('head.gap_out');
    expect(parsePlacement('something-new').kind).toBe('none');
  });

  it('splits an explanation into its cost terms', () => {
    expect(explanationTerms('tier=edge; total=1.8; compute=1.8; vs cloud=4.5; policy=edge')).toEqual({ tier: 'edge', total: 1.8, compute: 1.8, 'vs cloud': 4.5, policy: 'edge' });
  });
});

describe('sampleInputs', () => {
  it('makes one row per input with dynamic dims at 1, the declared dtype, repeatably', () => {
    const doc = { inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 4, 4] }, { name: 'ids', dtype: 'int64', shape: [-1, 8] }] };
    const a = sampleInputs(doc);
    expect(a.image!.dims).toEqual([1, 3, 4, 4]);
    expect(a.image!.data).toHaveLength(48);
    expect(a.image!.data.every((v) => typeof v === 'number' && v >= 0 && v < 1)).toBe(true);
    expect(a.ids!.data.every((v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 30)).toBe(true);
    expect(sampleInputs(doc)).toEqual(a);
    expect(sampleInputs(doc, 2).image!.data).not.toEqual(a.image!.data);
  });

  it('names the input that cannot be sampled', () => {
    expect(() => sampleInputs({})).toThrow(SampleInputError);
    expect(() => sampleInputs({ inputs: [{ name: 'x', dtype: 'float32', shape: [1, 'N'] }] })).toThrow(/input "x" has shape \[1,"N"\]/);
    expect(() => sampleInputs({ inputs: [{ name: 'big', dtype: 'float32', shape: [1, MAX_SAMPLE_ELEMENTS + 1] }] })).toThrow(/input "big" has \d+ elements/);
  });
});

describe('parseJson', () => {
  it('places a syntax error on its line and column', () => {
    expect(parseJson('{\n  "name": "x",\n  "nodes": [}\n}')).toEqual({ ok: false, line: 3, column: 13, message: 'expected a value, found "}"' });
    expect(parseJson('{"a": 1,}')).toMatchObject({ ok: false, line: 1, column: 9, message: 'expected a property name in double quotes, found "}"' });
    expect(parseJson('{"a": 1')).toMatchObject({ ok: false, column: 8, message: 'expected "," or "}", found the end of the text' });
    expect(parseJson('{"a": tru}')).toMatchObject({ ok: false, column: 7 });
    expect(parseJson('[1] x')).toMatchObject({ ok: false, column: 5, message: 'expected the end of the document, found "x"' });
    expect(parseJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
  });
});

describe('jsonSyntaxError', () => {
  it('agrees with JSON.parse on what is valid', () => {
    for (const t of ['{}', '[]', '"x"', '-0.5e3', 'true', 'null', '{"a":[1,{"b":"\\u00e9\\n"}]}', ' [ 1 , 2 ] ']) expect(jsonSyntaxError(t), t).toBeUndefined();
    for (const t of ['', '{', '[1,]', '01', '"a\nb"', '{"a" 1}', 'nul', '"\\x"', '+1']) {
      expect(() => JSON.parse(t), t).toThrow();
      expect(jsonSyntaxError(t), t).toBeDefined();
    }
  });
});

describe('quantile', () => {
  it('is nearest-rank and ignores non-finite values', () => {
    expect(quantile([5, 1, 3, NaN, 2, 4], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4, 100], 0.99)).toBe(100);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
