import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChainJob, FirstJob } from '../../../examples/chained.js';
import { Grep, patternOf } from '../../../examples/grep.js';
import { CsvInnerJoiner, parseCsvRow, SET_A, SET_B } from '../../../examples/join.js';
import { SAMPLE_TEXT, WordCount } from '../../../examples/wordcount.js';
import { InputStream } from '../../../src/worker/readers/input-stream.js';

const settings = { DISCO_JOB_OWNER: 'examples@test' };

describe('examples run locally', () => {
  it('word count counts the sample text', () => {
    const text = readFileSync(SAMPLE_TEXT, 'utf8');
    expect(text.length).toBeGreaterThan(20_000);
    const pairs = text.split('\n').flatMap((line) => [...WordCount.map(line, null)]);
    const counts = new Map([...WordCount.reduce(pairs, null)]);
    expect(counts.get('the')).toBe(pairs.filter(([w]) => w === 'the').length);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(pairs.length);
  });

  it('chained jobs add one per job', () => {
    expect([...FirstJob.map('0', null)]).toEqual([[1, '']]);
    expect([...ChainJob.map([1, ''], null)]).toEqual([[2, '']]);
  });

  it('grep keeps matching lines with their URL', () => {
    const stream = InputStream.fromBytes('a harbour\nno match\nHARBOUR lights\n', 'raw://x');
    const hits = [...Grep.mapReader(stream, null, 'raw://x', { pattern: 'harbour', flags: 'i' })];
    expect(hits).toEqual([
      ['raw://x', 'a harbour'],
      ['raw://x', 'HARBOUR lights'],
    ]);
    expect(patternOf('^a').test('abc')).toBe(true);
  });

  it('join merges rows with equal keys (the tutorial\u2019s expected output)', () => {
    expect(parseCsvRow('1, "alpha"')).toEqual(['1', 'alpha']);
    expect(parseCsvRow('2, "a, ""quoted"" b", x')).toEqual(['2', 'a, "quoted" b', 'x']);
    const lines = [...readFileSync(SET_A, 'utf8').split('\n'), ...readFileSync(SET_B, 'utf8').split('\n')];
    const mapped = lines.flatMap((l) => [...CsvInnerJoiner.map(l, null)]);
    mapped.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    expect([...CsvInnerJoiner.reduce(mapped, null)]).toEqual([
      ['1', ['alpha', 'who']],
      ['2', ['beta', 'what']],
      ['3', ['gamma', 'where']],
      ['4', ['delta', 'when']],
      ['5', ['epsilon', 'why']],
    ]);
  });
});

describe('examples build job packs', () => {
  it('references the example functions by export, API helpers by name', async () => {
    const wc = await new WordCount({ settings }).build({ input: ['raw://a'] });
    expect(wc.jobdata.functions).toEqual({
      map: { export: ['WordCount', 'map'] },
      reduce: { export: ['WordCount', 'reduce'] },
    });
    const chain = await new ChainJob({ settings }).build({ input: ['raw://1'] });
    expect(chain.jobdata.functions.mapReader).toEqual({ source: 'chainReader' });
    const first = await new FirstJob({ settings }).build();
    expect(first.jobdict.input).toEqual(['raw://0', 'raw://0']);
    expect(first.jobdict['reduce?']).toBe(false);
    const grep = await new Grep({ settings }).build({ input: ['raw://x'], params: { pattern: 'x' } });
    expect(grep.jobdata.functions.map).toEqual({ source: 'nopMap' });
    expect(grep.jobdata.functions.mapReader).toEqual({ export: ['Grep', 'mapReader'] });
    const join = await new CsvInnerJoiner({ settings }).build({ input: [SET_A, SET_B] });
    expect(join.jobdict.nr_reduces).toBe(2);
    expect(join.jobdata.sort).toBe(true);
  });
});
