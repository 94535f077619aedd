/**
 * `requiredModules` entries as job home files, and functions inside exported lists (stream
 * chains) found by export. The real jobs that use them are in test/e2e/job-params.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { externalPackages, requiredPackageEntries } from '../../../src/client/bundle.js';
import { findExportPath } from '../../../src/client/function-ref.js';
import type { RequiredModule } from '../../../src/client/job-options.js';
import { requiredModuleEntries } from '../../../src/client/jobhome.js';

const FIXTURES = path.join(import.meta.dirname, '..', '..', 'e2e', 'fixtures');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'required-modules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Write job home files under `dir`, as a node unpacks them. */
function unpack(dir: string, files: { name: string; data: Uint8Array }[]): void {
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f.name)), { recursive: true });
    writeFileSync(path.join(dir, f.name), f.data);
  }
}

describe('requiredModules', () => {
  it('sends a [name, file] pair as a package that require() finds from the job home', async () => {
    const files = await requiredPackageEntries([
      ['disco-test-shout', path.join(FIXTURES, 'vendored', 'shout.ts')],
    ]);
    expect(files.map((f) => f.name).sort()).toEqual([
      'node_modules/disco-test-shout/index.cjs',
      'node_modules/disco-test-shout/package.json',
    ]);
    const home = path.join(tmp, 'home-file');
    unpack(home, files);
    const req = createRequire(path.join(home, 'job.js'));
    expect((req('disco-test-shout') as { shout(s: string): string }).shout('hey')).toBe('HEY!');
  });

  it('copies a [name, directory] pair as the package, and leaves plain entries to the other helpers', async () => {
    const pkg = path.join(tmp, 'pkg');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), '{"name":"@me/tool","main":"main.js"}');
    writeFileSync(path.join(pkg, 'main.js'), 'exports.answer = 42;');
    const mods: RequiredModule[] = [
      'lodash',
      ['@me/tool', pkg],
      path.join(FIXTURES, 'required-lib', 'counter.cjs'),
    ];
    const files = await requiredPackageEntries(mods);
    expect(files.map((f) => f.name).sort()).toEqual([
      'node_modules/@me/tool/main.js',
      'node_modules/@me/tool/package.json',
    ]);
    const home = path.join(tmp, 'home-dir');
    unpack(home, [...files, ...requiredModuleEntries(mods)]);
    const req = createRequire(path.join(home, 'job.js'));
    expect((req('@me/tool') as { answer: number }).answer).toBe(42);
    expect((req('./lib/counter.cjs') as { double(n: number): number }).double(4)).toBe(8);
    // Package names and pair names stay imports of the job module's bundle; paths do not.
    expect(externalPackages(mods)).toEqual(['lodash', '@me/tool']);
  });

  it('refuses entries that cannot work, saying what is wrong', async () => {
    await expect(requiredPackageEntries([['../escape', FIXTURES]])).rejects.toThrow(
      /not a usable package name/,
    );
    await expect(requiredPackageEntries([['disco-ts', FIXTURES]])).rejects.toThrow(
      /not a usable package name/,
    );
    await expect(requiredPackageEntries([['ok', path.join(tmp, 'nope.ts')]])).rejects.toThrow(
      /does not exist/,
    );
    await expect(requiredPackageEntries([['a', 'b', 'c'] as unknown as RequiredModule])).rejects.toThrow(
      /expected a name, a path, or \[package name, path\]/,
    );
    const broken = path.join(tmp, 'broken.ts');
    writeFileSync(broken, 'export const = ;');
    await expect(requiredPackageEntries([['broken', broken]])).rejects.toThrow(
      /cannot bundle required module broken/,
    );
  });
});

describe('functions inside exported lists', () => {
  it('are found by export (stream chains may hold closures made by a factory)', () => {
    const xor = (k: number) => (s: unknown) => [s, k];
    // biome-ignore lint/complexity/noStaticOnlyClass: the shape of a Job subclass with static job options
    class Streams {
      static mapInputStream = [xor(1), xor(2)];
    }
    expect(findExportPath({ Streams }, Streams.mapInputStream[1])).toEqual([
      'Streams',
      'mapInputStream',
      '1',
    ]);
  });
});
