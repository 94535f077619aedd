import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleClientModule, bundleJobModule, importJobModule } from '../../../src/client/bundle.js';
import { WORKER_API_GLOBAL } from '../../../src/protocol/jobdata.js';
import { workerApi } from '../../../src/worker/api.js';
import * as countJob from './fixtures/count-job.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'disco-bundle-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** Load a bundle the way the worker does: with the API object set on the global. */
async function loadBundle(code: Uint8Array, api: Record<string, unknown>): Promise<Record<string, unknown>> {
  const file = path.join(tmp, `bundle-${++n}.mjs`);
  writeFileSync(file, code);
  (globalThis as Record<string, unknown>)[WORKER_API_GLOBAL] = api;
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } finally {
    delete (globalThis as Record<string, unknown>)[WORKER_API_GLOBAL];
  }
}

describe('job module bundling', () => {
  it('bundles local imports and maps the library to the worker API', async () => {
    const code = await bundleJobModule(path.join(FIXTURES, 'count-job.ts'));
    const text = Buffer.from(code).toString();
    expect(text).toContain('__discoWorkerApi');
    expect(text).toContain('function normalize'); // the local import is inside
    expect(text).not.toContain('src/client'); // the client library is not
    const ns = await loadBundle(code, workerApi);
    const Count = ns.Count as typeof countJob.Count;
    expect([...Count.map('Hello, hello WORLD')]).toEqual([
      ['hello', 1],
      ['hello', 1],
      ['world', 1],
    ]);
    expect([
      ...Count.reduce([
        ['b', 1],
        ['a', 2],
        ['b', 3],
      ]),
    ]).toEqual([
      ['a', 2],
      ['b', 4],
    ]);
    // The class extends the worker's Job, not the client's.
    expect(Object.getPrototypeOf(Count)).toBe(workerApi.Job);
  });

  it('maps bare `disco-ts` imports too', async () => {
    const code = await bundleJobModule(path.join(FIXTURES, 'bare-import.mjs'));
    const ns = await loadBundle(code, { ...workerApi, thisPartition: () => 10 });
    const reduce = ns.reduce as (it: Iterable<[string, number]>) => Iterable<[string, number]>;
    expect([
      ...reduce([
        ['a', 1],
        ['a', 2],
        ['b', 5],
      ]),
    ]).toEqual([
      ['a', 13],
      ['b', 15],
    ]);
  });

  it('caches bundles until an input file changes', async () => {
    const dir = mkdtempSync(path.join(tmp, 'mod-'));
    const entry = path.join(dir, 'job.ts');
    const dep = path.join(dir, 'dep.ts');
    writeFileSync(dep, 'export const K = 1;\n');
    writeFileSync(entry, "import { K } from './dep.js';\nexport const map = (x: string) => [[x, K]];\n");
    const a = await bundleJobModule(entry);
    const t0 = performance.now();
    const b = await bundleJobModule(entry);
    expect(performance.now() - t0).toBeLessThan(20);
    expect(b).toBe(a);
    writeFileSync(dep, 'export const K = 2;\n');
    const later = new Date(Date.now() + 5000);
    utimesSync(dep, later, later);
    const c = await bundleJobModule(entry);
    expect(c).not.toBe(a);
    expect(Buffer.from(c).toString()).toContain('K = 2');
  });

  it('keeps required packages external', async () => {
    const entry = path.join(tmp, 'ext.ts');
    writeFileSync(
      entry,
      "import lib from 'some-node-package';\nexport const map = (x: string) => [[lib(x), 1]];\n",
    );
    const code = Buffer.from(await bundleJobModule(entry, ['some-node-package'])).toString();
    expect(code).toMatch(/from\s*["']some-node-package["']/);
    await expect(bundleJobModule(entry)).rejects.toThrow(/cannot bundle job module/);
  });

  it('imports job modules in the client, directly or through a client bundle', async () => {
    const direct = await importJobModule(path.join(FIXTURES, 'count-job.ts'));
    expect(direct.Count).toBe(countJob.Count); // the same module instance: identities match
    const code = await bundleClientModule(path.join(FIXTURES, 'count-job.ts'));
    const file = path.join(tmp, 'client-bundle.mjs');
    writeFileSync(file, code);
    const ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const Count = ns.Count as { prototype: { run: unknown; wait: unknown } };
    expect(typeof Count.prototype.run).toBe('function'); // extends the client's Job
    expect(typeof Count.prototype.wait).toBe('function');
  });
});
