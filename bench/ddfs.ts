/**
 * DDFS benchmarks (`node scripts/run-ts.mjs bench/ddfs.ts [push chunk cat k3 tags]`), each
 * figure next to a baseline measured in the same run on the same disk:
 *
 * 1. `push`: `ddfs push` of a generated text file (BENCH_DDFS_MB, default 1024 MiB) to one node
 *    with K = 1, against `dd bs=1M conv=fsync` writing the same bytes (target ≥ 70 %), run two
 *    ways: over HTTP (the CLI's own `DDFS_DATA`) and on the node's machine (`DDFS_DATA` the
 *    node's, as with `disco start`), where the replica is written straight into the node's
 *    volumes (short-circuit writes, local-node.ts); the bench checks that the node process did
 *    not write the bytes itself then;
 * 2. `chunk`: `ddfs chunk` (64 MiB chunks, uncompressed — the default — and with `-z 1`) of the
 *    same file, against the same `dd`; the uncompressed one also on the node's machine as in 1.
 *    BENCH_DDFS_Z1=0 skips the `-z 1` runs (the slowest of all; default: run them);
 * 3. `cat`: `ddfs cat` of the pushed blob to /dev/null, against `cat` of the local file, page
 *    cache warm and cold (both files dropped from the cache first); also `curl` of the blob
 *    URL, what HTTP on loopback allows, and `ddfs cat` on the blob's own node (its
 *    `DDFS_DATA`, as with `disco start`), which reads the file instead;
 * 4. `k3`: `ddfs push` with K = 3 on three local nodes: throughput and bytes written per node;
 * 5. `tags`: a tag of 100,000 blob URLs (GET latency, reply size, master memory) and 10,000
 *    tags (listing latency).
 *
 * Each timed command runs BENCH_DDFS_RUNS times (default 3), alternating with its baseline;
 * the best run of each side is compared (the machine may be shared).
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT, Settings } from '../src/common/settings.js';
import { DDFS } from '../src/ddfs/client/ddfs.js';
import { parseDdfsUrl } from '../src/ddfs/names.js';
import { resolveHttp } from '../src/protocol/urls.js';
import { type Cluster, startCluster } from '../test/harness/cluster.js';
import { median } from './baselines.js';

const OUT = path.join(PACKAGE_ROOT, 'bench', 'out', 'ddfs');
const DDFS_BIN = path.join(PACKAGE_ROOT, 'bin', 'ddfs');
const MB = Number(process.env.BENCH_DDFS_MB ?? 1024);
const RUNS = Number(process.env.BENCH_DDFS_RUNS ?? 3);
const Z1 = process.env.BENCH_DDFS_Z1 !== '0';
const which = new Set(process.argv.slice(2));
const want = (name: string) => which.size === 0 || which.has(name);

function line(text: string): void {
  console.log(text);
}

/** Deterministic text: 4 MiB of lines of words, repeated up to `mb` MiB (as `ddfs chunk` sees logs). */
function generate(file: string, mb: number): void {
  if (existsSync(file) && statSync(file).size === mb * 1024 * 1024) return;
  mkdirSync(path.dirname(file), { recursive: true });
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  const vocab = Array.from({ length: 20000 }, () => {
    let w = '';
    const len = 2 + Math.floor(rnd() * 8);
    for (let j = 0; j < len; j++) w += letters[Math.floor(rnd() ** 2 * letters.length)];
    return w;
  });
  let text = '';
  while (text.length < 4 * 1024 * 1024) {
    const n = 4 + Math.floor(rnd() * 12);
    const words: string[] = [];
    for (let k = 0; k < n; k++) words.push(vocab[Math.floor(rnd() ** 3 * vocab.length)]);
    text += `${words.join(' ')}\n`;
  }
  const block = Buffer.from(text.slice(0, text.lastIndexOf('\n', 4 * 1024 * 1024 - 1) + 1));
  const total = mb * 1024 * 1024;
  const parts: Buffer[] = [];
  for (let size = 0; size < total; size += block.length) parts.push(block);
  // Exactly `mb` MiB, ending with a newline.
  const all = Buffer.concat(parts).subarray(0, total);
  all[all.length - 1] = 0x0a;
  writeFileSync(file, all);
}

function run(cmd: string, args: string[], env: Record<string, string> = {}, shell = false): number {
  const t = performance.now();
  const r: SpawnSyncReturns<Buffer> = spawnSync(cmd, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    shell,
    maxBuffer: 64 << 20,
  });
  const secs = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return secs;
}

/** Drop a file's pages from the page cache (GNU dd). */
function uncache(file: string): void {
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
}

const mbps = (bytes: number, secs: number) => bytes / 1024 / 1024 / secs;
const fmt = (bytes: number, secs: number) => `${secs.toFixed(2)} s (${mbps(bytes, secs).toFixed(0)} MiB/s)`;
const pct = (ours: number, base: number) => `${((base / ours) * 100).toFixed(0)} %`;

function cliEnv(c: Cluster): Record<string, string> {
  return { ...c.env, DISCO_ROOT: path.join(c.root, 'cli') };
}

/** Written bytes (to storage) of a process so far, from /proc/<pid>/io. */
function writeBytes(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function rssKb(pid: number | undefined, field = 'VmRSS'): number {
  if (!pid) return 0;
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function duBytes(dir: string): number {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0] ?? 0);
}

async function benchK1(file: string): Promise<void> {
  const bytes = statSync(file).size;
  const c = await startCluster({
    nodes: 1,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '1', DDFS_TAG_REPLICAS: '1', DDFS_TAG_MIN_REPLICAS: '1' },
  });
  const env = cliEnv(c);
  // The CLI on node 0's machine sharing its settings (as after `disco start`): short-circuit writes.
  const nodeEnv = { ...env, DDFS_DATA: path.join(c.nodes[0].root, 'ddfs') };
  const nodePid = c.nodes[0].proc.pid;
  /** Seconds of one run, and the bytes node 0's process wrote to storage meanwhile. */
  const timed = (args: string[], e: Record<string, string>) => {
    const w0 = writeBytes(nodePid);
    const secs = run(DDFS_BIN, args, e);
    return { secs, nodeWrote: writeBytes(nodePid) - w0 };
  };
  /**
   * The on-node runs must not have gone through the node: when the node process wrote most of
   * the bytes over HTTP (so /proc io counts here), it must have written far less on the node.
   */
  const checkShortCircuit = (what: string, http: number, onNode: number) => {
    if (http > bytes / 2 && onNode > bytes / 4)
      throw new Error(
        `${what} on the node's machine: the node wrote ${onNode} bytes itself, no short-circuit`,
      );
  };
  const ddOut = path.join(c.root, 'dd.out');
  const dd = () => {
    rmSync(ddOut, { force: true });
    const s = run('dd', [`if=${file}`, `of=${ddOut}`, 'bs=1M', 'conv=fsync'], {});
    rmSync(ddOut, { force: true });
    return s;
  };
  try {
    line(
      `node ${process.version}, ${MB} MiB file, best of ${RUNS} runs; loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    const ddTimes: number[] = [];
    if (want('push') || want('chunk')) {
      run('cat', [file], {}); // warm the source
    }
    if (want('push')) {
      const ours: number[] = [];
      const onNode: number[] = [];
      let httpWrote = 0;
      let nodeWrote = 0;
      for (let i = 0; i < RUNS; i++) {
        ddTimes.push(dd());
        const h = timed(['push', '-n', '1', `bench:push${i}`, file], env);
        const n = timed(['push', '-n', '1', `bench:push-on-node${i}`, file], nodeEnv);
        ours.push(h.secs);
        onNode.push(n.secs);
        httpWrote = Math.max(httpWrote, h.nodeWrote);
        nodeWrote = Math.max(nodeWrote, n.nodeWrote);
      }
      checkShortCircuit('push', httpWrote, nodeWrote);
      const best = Math.min(...ours);
      const nb = Math.min(...onNode);
      const base = Math.min(...ddTimes);
      line(
        `push K=1 over HTTP:  ddfs push ${fmt(bytes, best)}; dd conv=fsync ${fmt(bytes, base)}; ${pct(best, base)} of dd (target ≥ 70 %)`,
      );
      line(
        `push K=1 on the node's machine (DDFS_DATA shared, as with disco start): ${fmt(bytes, nb)}; ${pct(nb, base)} of dd (target ≥ 70 %)`,
      );
    }
    if (want('chunk')) {
      const variants = [['uncompressed (the default)', '0'] as const, ['compressed (-z 1)', '1'] as const];
      for (const [label, z] of Z1 ? variants : variants.slice(0, 1)) {
        // Only the uncompressed chunking is quick enough for the write path to show.
        const alsoOnNode = z === '0';
        const ours: number[] = [];
        const onNode: number[] = [];
        let httpWrote = 0;
        let nodeWrote = 0;
        for (let i = 0; i < Math.max(1, RUNS - 1); i++) {
          if (ddTimes.length < RUNS) ddTimes.push(dd());
          const h = timed(['chunk', '-z', z, `bench:chunk${z}-${i}`, file], env);
          ours.push(h.secs);
          httpWrote = Math.max(httpWrote, h.nodeWrote);
          if (alsoOnNode) {
            const n = timed(['chunk', '-z', z, `bench:chunk${z}-on-node${i}`, file], nodeEnv);
            onNode.push(n.secs);
            nodeWrote = Math.max(nodeWrote, n.nodeWrote);
          }
        }
        const best = Math.min(...ours);
        const base = Math.min(...ddTimes);
        const ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
        const sets = await ddfs.urls(`bench:chunk${z}-0`);
        line(
          `chunk K=1, ${label}, over HTTP: ${fmt(bytes, best)} of input, ${sets.length} chunks; dd ${fmt(bytes, base)}; ${pct(best, base)} of dd (target ≥ 70 %)`,
        );
        if (alsoOnNode) {
          checkShortCircuit('chunk', httpWrote, nodeWrote);
          const nb = Math.min(...onNode);
          const local = await ddfs.urls(`bench:chunk${z}-on-node0`);
          line(
            `chunk K=1, ${label}, on the node's machine (DDFS_DATA shared, as with disco start): ${fmt(bytes, nb)} of input, ${local.length} chunks; ${pct(nb, base)} of dd (target ≥ 70 %)`,
          );
        }
      }
    }
    if (want('cat')) {
      const ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
      if (!(await ddfs.exists('bench:push0'))) run(DDFS_BIN, ['push', '-n', '1', 'bench:push0', file], env);
      const [[url]] = await ddfs.urls('bench:push0');
      const u = parseDdfsUrl(url)!;
      const blobFile = path.join(c.nodes[0].root, 'ddfs', u.vol, 'blob', u.hash, u.obj);
      const http = resolveHttp(url, c.port);
      const shell = (cmd: string) => run('sh', ['-c', cmd], env);
      const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const hasCurl = spawnSync('sh', ['-c', 'command -v curl']).status === 0;
      // Warm runs start from the same page cache state for both files: how pages got cached
      // (written, read ahead) changes how fast they are copied out — 140 vs 160 ms per GiB
      // here for the same file — so both are dropped and read once by `cat` first.
      for (const f of [file, blobFile]) {
        uncache(f);
        shell(`cat ${q(f)} > /dev/null`);
      }
      for (const cold of [false, true]) {
        const ours: number[] = [];
        const onNode: number[] = [];
        const base: number[] = [];
        const curl: number[] = [];
        // The CLI on the blob's node (DDFS_DATA shared, as with `disco start`) reads the file.
        const nodeData = `DDFS_DATA=${q(path.join(c.nodes[0].root, 'ddfs'))}`;
        for (let i = 0; i < RUNS; i++) {
          if (cold) uncache(file);
          base.push(shell(`cat ${q(file)} > /dev/null`));
          if (cold) uncache(blobFile);
          ours.push(shell(`${q(DDFS_BIN)} cat bench:push0 > /dev/null`));
          if (cold) uncache(blobFile);
          onNode.push(shell(`${nodeData} ${q(DDFS_BIN)} cat bench:push0 > /dev/null`));
          if (hasCurl) {
            if (cold) uncache(blobFile);
            curl.push(shell(`curl -sf -o /dev/null ${q(http)}`));
          }
        }
        const b = Math.min(...ours);
        const cb = Math.min(...base);
        const curlText = hasCurl
          ? `; curl of the blob URL ${fmt(bytes, Math.min(...curl))} (ddfs cat = ${pct(b, Math.min(...curl))} of it)`
          : '';
        const nb = Math.min(...onNode);
        line(
          `cat, page cache ${cold ? 'cold' : 'warm'}: ddfs cat ${fmt(bytes, b)}; cat of the local file ${fmt(bytes, cb)}; ${pct(b, cb)} of cat (target ≥ 70 %)${curlText}; on the blob's node (local read) ${fmt(bytes, nb)}, ${pct(nb, cb)} of cat`,
        );
      }
      // Sanity: the bytes are the same.
      const h = createHash('sha256');
      for await (const blob of ddfs.pull('bench:push0')) for await (const b of blob.chunks()) h.update(b);
      const want = createHash('sha256').update(readFileSync(file)).digest('hex');
      if (h.digest('hex') !== want) throw new Error('ddfs cat returned different bytes');
    }
  } finally {
    await c.stop();
  }
}

async function benchK3(file: string): Promise<void> {
  const bytes = statSync(file).size;
  const c = await startCluster({
    nodes: 3,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '3', DDFS_TAG_REPLICAS: '3', DDFS_TAG_MIN_REPLICAS: '2' },
  });
  try {
    const env = cliEnv(c);
    run('cat', [file], {});
    const times: number[] = [];
    let written: number[] = [];
    let stored: number[] = [];
    for (let i = 0; i < Math.max(1, RUNS - 1); i++) {
      const before = c.nodes.map((n) => writeBytes(n.proc.pid));
      const du0 = c.nodes.map((n) => duBytes(path.join(n.root, 'ddfs')));
      times.push(run(DDFS_BIN, ['push', `bench:k3-${i}`, file], env));
      written = c.nodes.map((n, j) => writeBytes(n.proc.pid) - before[j]);
      stored = c.nodes.map((n, j) => duBytes(path.join(n.root, 'ddfs')) - du0[j]);
    }
    const best = Math.min(...times);
    line(
      `push K=3 on 3 nodes: ${fmt(bytes, best)} of data, ${mbps(3 * bytes, best).toFixed(0)} MiB/s written in all`,
    );
    line(
      `  per node (last run): ${c.nodes
        .map(
          (n, j) =>
            `${n.host} wrote ${(written[j] / 1024 / 1024).toFixed(0)} MiB, stores +${(stored[j] / 1024 / 1024).toFixed(0)} MiB`,
        )
        .join('; ')}`,
    );
  } finally {
    await c.stop();
  }
}

/** After a master restart: wait until every node has reconnected. */
async function waitConnected(c: Cluster): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const info = (await (await fetch(`${c.master}/disco/ctrl/nodeinfo`)).json()) as Record<
      string,
      { connected: boolean }
    >;
    if (c.nodes.every((n) => info[n.host]?.connected)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nodes did not reconnect');
}

async function timeGet(url: string, runs: number): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await fetch(url);
    bytes = (await r.arrayBuffer()).byteLength;
    if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
    times.push(performance.now() - t);
  }
  return { ms: median(times), bytes };
}

async function benchTags(): Promise<void> {
  const c = await startCluster({
    nodes: 3,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '3', DDFS_TAG_REPLICAS: '3', DDFS_TAG_MIN_REPLICAS: '2' },
  });
  try {
    const master = c.masterProc.pid;
    const ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
    const rss0 = rssKb(master);
    const n = 100_000;
    const hosts = c.nodes.map((x) => x.host);
    const urls = Array.from({ length: n }, (_, i) => {
      const name = `blob${i}$5dc-${(i + 1).toString(16)}-0`;
      return hosts.map(
        (h) => `disco://${h}/ddfs/vol0/blob/${(i % 256).toString(16).padStart(2, '0')}/${name}`,
      );
    });
    let t = performance.now();
    await ddfs.put('bench:big', urls);
    const putMs = performance.now() - t;
    const tagUrl = `${c.master}/ddfs/tag/bench:big`;
    const cold = await timeGet(tagUrl, 1);
    const warm = await timeGet(tagUrl, 10);
    t = performance.now();
    await ddfs.tag('bench:big', [[`disco://${hosts[0]}/ddfs/vol0/blob/00/extra$5dc-1-1`]]);
    const postMs = performance.now() - t;
    const rss1 = rssKb(master);
    const hwm = rssKb(master, 'VmHWM');
    line(
      `tag of ${n.toLocaleString('en')} blobs (3 replicas each, ${(warm.bytes / 1024 / 1024).toFixed(1)} MiB of JSON): PUT ${putMs.toFixed(0)} ms; ` +
        `GET ${cold.ms.toFixed(0)} ms first, median ${warm.ms.toFixed(0)} ms after; POST of one more blob ${postMs.toFixed(0)} ms; ` +
        `master RSS ${(rss0 / 1024).toFixed(0)} → ${(rss1 / 1024).toFixed(0)} MiB (peak ${(hwm / 1024).toFixed(0)} MiB)`,
    );
    // After a master restart the tag is read back from the nodes.
    await c.restartMaster();
    await waitConnected(c);
    const reloaded = await timeGet(tagUrl, 1);
    line(`  GET after a master restart (read from the nodes): ${reloaded.ms.toFixed(0)} ms`);

    const m = 10_000;
    t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < m) {
          const i = next++;
          await ddfs.tag(`bench:many:${String(i).padStart(5, '0')}`, []);
        }
      }),
    );
    const createSecs = (performance.now() - t) / 1000;
    const all = await timeGet(`${c.master}/ddfs/tags`, 10);
    const prefix = await timeGet(`${c.master}/ddfs/tags/bench:many:001`, 10);
    const count = ((await (await fetch(`${c.master}/ddfs/tags`)).json()) as string[]).length;
    line(
      `${m.toLocaleString('en')} tags: created in ${createSecs.toFixed(1)} s (${(m / createSecs).toFixed(0)} tags/s, 16 clients); ` +
        `listing all ${count.toLocaleString('en')}: median ${all.ms.toFixed(0)} ms; prefix (100 tags): median ${prefix.ms.toFixed(0)} ms`,
    );
    await c.restartMaster();
    await waitConnected(c);
    const relist = await timeGet(`${c.master}/ddfs/tags`, 1);
    line(`  listing after a master restart: ${relist.ms.toFixed(0)} ms`);
  } finally {
    await c.stop();
  }
}

async function main(): Promise<void> {
  const file = path.join(OUT, `text-${MB}mb.txt`);
  if (want('push') || want('chunk') || want('cat') || want('k3')) generate(file, MB);
  if (want('push') || want('chunk') || want('cat')) await benchK1(file);
  if (want('k3')) await benchK3(file);
  if (want('tags')) await benchTags();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
