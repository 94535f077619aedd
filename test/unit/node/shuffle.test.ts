import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shuffle } from '../../../src/node/shuffle.js';
import { parseIndex } from '../../../src/protocol/index-file.js';
import { hexHash } from '../../../src/protocol/names.js';
import { HOST, jobName, tempRoot } from './harness.js';

let root: string;
beforeEach(async () => {
  root = await tempRoot();
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('shuffle', () => {
  it('concatenates part files per label, rewrites lines and writes a sorted gzip index', async () => {
    const job = jobName();
    const hh = hexHash(job);
    const discoData = path.join(root, 'data');
    const dir = path.join(discoData, HOST, hh, job);
    const base = `${HOST}/disco/${HOST}/${hh}/${job}`;
    const home = { dir, urlBase: base };
    const write = async (rel: string, data: string) => {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(path.join(dir, rel), data);
    };
    await write('t0/map-0', 'a0');
    await write('t0/map-1', 'a1');
    await write('t1/map-0', 'b0');
    await write('.disco/map-0-1.results', `0 part://${base}/t0/map-0\n1 part://${base}/t0/map-1\n`);
    await write(
      '.disco/map-1-2.results',
      `0 part://${base}/t1/map-0\n0 disco://${base}/t1/plain\n0 disco://${base}/t1/plain\n`,
    );
    await write('.disco/map-2-3.results', '');

    const index = await shuffle({
      job,
      mode: 'map',
      home,
      resultFiles: ['.disco/map-0-1.results', '.disco/map-1-2.results', '.disco/map-2-3.results'],
      host: HOST,
      discoData,
      ddfsData: path.join(root, 'ddfs'),
      discoPort: 8989,
    });
    expect(index).toBe(`dir://${base}/.disco/map-index.txt.gz`);
    const entries = parseIndex(await fs.readFile(path.join(dir, '.disco/map-index.txt.gz')));
    const [partDir] = (await fs.readdir(path.join(dir, '.disco'))).filter((n) => n.startsWith('partitions-'));
    expect(partDir).toMatch(/^partitions-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/);
    expect(entries).toEqual([
      { label: '0', url: `disco://${base}/.disco/${partDir}/part-0` },
      { label: '0', url: `disco://${base}/t1/plain` },
      { label: '1', url: `disco://${base}/.disco/${partDir}/part-1` },
    ]);
    expect(await fs.readFile(path.join(dir, '.disco', partDir, 'part-0'), 'utf8')).toBe('a0b0');
    expect(await fs.readFile(path.join(dir, '.disco', partDir, 'part-1'), 'utf8')).toBe('a1');

    const common = { job, home, host: HOST, discoData, ddfsData: path.join(root, 'ddfs'), discoPort: 8989 };
    // Nothing to index → null; unsafe or missing inputs → errors.
    expect(await shuffle({ ...common, mode: 'reduce', resultFiles: ['.disco/map-2-3.results'] })).toBeNull();
    await expect(shuffle({ ...common, mode: 'reduce', resultFiles: ['../../x.results'] })).rejects.toThrow(
      /outside/,
    );
    await write('.disco/bad.results', `0 part://otherhost/disco/otherhost/${hh}/${job}/t0/map-0\n`);
    await expect(shuffle({ ...common, mode: 'reduce', resultFiles: ['.disco/bad.results'] })).rejects.toThrow(
      /not on this node/,
    );
  });

  it('keeps every byte and the task order over many files, big ones in chunks', async () => {
    const job = jobName();
    const hh = hexHash(job);
    const discoData = path.join(root, 'data');
    const dir = path.join(discoData, HOST, hh, job);
    const base = `${HOST}/disco/${HOST}/${hh}/${job}`;
    await fs.mkdir(path.join(dir, '.disco'), { recursive: true });
    const n = 300;
    const want: Buffer[] = [];
    const resultFiles: string[] = [];
    for (let i = 0; i < n; i++) {
      // One file larger than the copy buffer (1 MiB); the rest small.
      const data = i === 7 ? Buffer.alloc(2.5 * 1024 * 1024, 'x') : Buffer.from(`<${i}>`);
      const rel = `t${i}/map-0`;
      await fs.mkdir(path.join(dir, `t${i}`), { recursive: true });
      await fs.writeFile(path.join(dir, rel), data);
      want.push(data);
      const results = `.disco/map-${i}-1.results`;
      await fs.writeFile(path.join(dir, results), `0 part://${base}/${rel}\n`);
      resultFiles.push(results);
    }
    const index = await shuffle({
      job,
      mode: 'map',
      home: { dir, urlBase: base },
      resultFiles,
      host: HOST,
      discoData,
      ddfsData: path.join(root, 'ddfs'),
      discoPort: 8989,
    });
    expect(index).toBe(`dir://${base}/.disco/map-index.txt.gz`);
    const [partDir] = (await fs.readdir(path.join(dir, '.disco'))).filter((f) => f.startsWith('partitions-'));
    const got = await fs.readFile(path.join(dir, '.disco', partDir, 'part-0'));
    expect(got.equals(Buffer.concat(want))).toBe(true);
  });
});
