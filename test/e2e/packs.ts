/** Job packs built by hand for end-to-end tests (Python worker, custom zips). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import { encodeJobPack, type JobDict } from '../../src/protocol/jobpack.js';

/**
 * A zip of `files`. Names may contain `..` or start with `/` (for path-trick tests): yazl
 * refuses those, so such entries are added under a same-length placeholder name whose bytes
 * are then replaced in the finished archive (names are not checksummed).
 */
export async function zip(files: Record<string, Buffer | string>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  const swaps: [string, string][] = [];
  for (const [name, data] of Object.entries(files)) {
    let safe = name;
    if (name.startsWith('/') || name.split('/').includes('..')) {
      safe = name.replace(/[./]/g, (ch) => (ch === '.' ? 'D' : 'S'));
      swaps.push([safe, name]);
    }
    z.addBuffer(Buffer.from(data), safe, { mode: 0o100755 });
  }
  z.end();
  const chunks: Buffer[] = [];
  const out = await new Promise<Buffer>((resolve, reject) => {
    z.outputStream.on('data', (b: Buffer) => chunks.push(b));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    z.outputStream.on('error', reject);
  });
  for (const [from, to] of swaps) {
    const a = Buffer.from(from);
    for (let i = out.indexOf(a); i >= 0; i = out.indexOf(a, i + 1)) Buffer.from(to).copy(out, i);
  }
  return out;
}

export const PY_WORKER = readFileSync(path.join(import.meta.dirname, 'fixtures/py_worker.py'));

/** A word-count job pack run by the Python protocol-1.0 worker. */
export async function pythonWordCountPack(
  texts: string[],
  opts: {
    prefix?: string;
    env?: Record<string, string>;
    reduce?: boolean;
    extraFiles?: Record<string, string>;
  } = {},
): Promise<Buffer> {
  const jobdict: JobDict = {
    prefix: opts.prefix ?? 'PyWords',
    input: texts.map((t) => `raw://${t}`),
    worker: 'worker.py',
    owner: 'test@localhost',
    nr_reduces: 2,
    scheduler: {},
    'map?': true,
    'reduce?': opts.reduce !== false,
  };
  const home = await zip({ 'worker.py': PY_WORKER, ...opts.extraFiles });
  return encodeJobPack({ jobdict, jobenvs: opts.env ?? {}, jobhome: home });
}

/** Reference word count. */
export function countWords(texts: string[]): Record<string, number> {
  const want: Record<string, number> = {};
  for (const w of texts.join(' ').split(/\s+/).filter(Boolean)) want[w] = (want[w] ?? 0) + 1;
  return want;
}
