/**
 * Small helpers shared by end-to-end tests: HTTP calls to the master, index, result and blob
 * reading, and building the C programs of the external-program tests.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { streamBlob } from '../../src/ddfs/client/blob-read.js';
import type { Job } from '../../src/index.js';
import { parseIndex } from '../../src/protocol/index-file.js';
import { resolveHttp } from '../../src/protocol/urls.js';

export async function getJson<T = unknown>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

export async function postJson<T = unknown>(url: string, body: unknown): Promise<T> {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`POST ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

export async function submitPack(master: string, pack: Uint8Array): Promise<string> {
  const r = await fetch(`${master}/disco/job/new`, { method: 'POST', body: pack });
  const reply = (await r.json()) as [string, string];
  if (reply[0] !== 'ok') throw new Error(`submit failed: ${reply[1]}`);
  return reply[1];
}

/** Wait for a job with the get_results long-poll; returns [status, results]. */
export async function waitJob(master: string, job: string, timeoutMs = 60_000): Promise<[string, string[]]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await postJson<[string, [string, string[]]][]>(`${master}/disco/ctrl/get_results`, [
      2000,
      [job],
    ]);
    const [status, results] = reply[0][1];
    if (status !== 'active') return [status, results];
    if (Date.now() > deadline) throw new Error(`job ${job} still active after ${timeoutMs} ms`);
  }
}

/** Fetch every data file listed by dir:// results (index files), concatenated per URL. */
export async function readDirResults(
  results: string[],
  port: number,
): Promise<{ label: string; data: Buffer }[]> {
  const out: { label: string; data: Buffer }[] = [];
  for (const r of results) {
    const idx = Buffer.from(await (await fetch(resolveHttp(r, port))).arrayBuffer());
    for (const e of parseIndex(idx, r.endsWith('.gz'))) {
      const data = Buffer.from(await (await fetch(resolveHttp(e.url, port))).arrayBuffer());
      out.push({ label: e.label, data });
    }
  }
  return out;
}

/** A blob's bytes, read from its replicas (`port`: the cluster's DISCO_PORT, for `disco://` URLs). */
export async function readBlob(port: number, replicas: string[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of streamBlob(replicas.map((u) => resolveHttp(u, port)))) parts.push(b);
  return Buffer.concat(parts);
}

export async function events(master: string, job: string): Promise<[string, string, string][]> {
  const text = await (await fetch(`${master}/disco/ctrl/rawevents?name=${job}`)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as [string, string, string]);
}

/** Every record of a job's results, in order (`results`: what `job.wait()` gave, else it waits now). */
export async function records<K = unknown, V = unknown>(job: Job, results?: string[]): Promise<[K, V][]> {
  const out: [K, V][] = [];
  for await (const kv of job.resultIterator<K, V>(results ?? (await job.wait()))) out.push(kv);
  return out;
}

/** `key<TAB>count` lines (what `disco results` prints for a word count) as an object. */
export function tabCounts(text: string): Record<string, number> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .map(([k, v]) => [k, Number(v)]),
  );
}

/** Build `fixtures/external/<name>.c` against ext/disco.c (gcc) into `dir/<name>`; its path. */
export function compileExternalFixture(name: string, dir: string): string {
  const ext = path.join(PACKAGE_ROOT, 'ext');
  const out = path.join(dir, name);
  execFileSync('gcc', [
    '-O2',
    '-Wall',
    '-Wextra',
    '-I',
    ext,
    '-o',
    out,
    path.join(ext, 'disco.c'),
    path.join(import.meta.dirname, 'fixtures', 'external', `${name}.c`),
  ]);
  return out;
}
