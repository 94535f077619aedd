/**
 * UDP discovery across "hosts" made of network namespaces (no broadcast ever touches the
 * machine's real interfaces): a client finds a node by broadcast (datagrams signed with the
 * secret; unsigned or wrongly signed ones are dropped), and through a dispynetrelay finds a
 * node in another network behind a router. Skipped, with the reason, where namespaces are not
 * permitted.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { broadcastAddresses, broadcastOf, matchesPattern } from '../../src/dispy/discovery/addresses.js';
import { datagramSignatureValid, signDatagram } from '../../src/dispy/discovery/signing.js';
import type { Datagram } from '../../src/dispy/protocol/messages.js';
import { ensureBuilt } from './helpers.js';
import { NetLab, probeNetns, waitForLine } from './netns.js';

const DIST = path.join(PACKAGE_ROOT, 'dist');
const NETNS = probeNetns();
if (!NETNS.ok) console.warn(`dispy discovery tests skipped: ${NETNS.reason}`);

const labs: NetLab[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const l of labs.splice(0)) l.destroy();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('discovery addresses', () => {
  it('computes broadcast addresses only for the interfaces asked for', () => {
    expect(broadcastOf('192.168.3.7', '255.255.255.0')).toBe('192.168.3.255');
    const ifaces = {
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', internal: true }],
      eth0: [{ address: '10.1.2.3', netmask: '255.255.0.0', family: 'IPv4', internal: false }],
    } as never;
    expect(broadcastAddresses(undefined, {}, ifaces)).toEqual(['10.1.255.255']);
    expect(broadcastAddresses('127.0.0.1', {}, ifaces)).toEqual([]);
    expect(broadcastAddresses(undefined, { DISPY_BROADCAST: 'none' }, ifaces)).toEqual([]);
    expect(broadcastAddresses(undefined, { DISPY_BROADCAST: '10.9.9.255' }, ifaces)).toEqual(['10.9.9.255']);
    expect(matchesPattern('192.168.3.*', '192.168.3.14')).toBe(true);
    expect(matchesPattern('192.168.3.*', '192.168.4.14')).toBe(false);
  });

  it('signs datagrams with the secret; any change or another secret breaks the signature', () => {
    const ping: Extract<Datagram, { t: 'ping' }> = {
      t: 'ping',
      v: 1,
      replyAddr: '',
      replyPort: 4000,
      clientId: 'c1',
    };
    const signed = signDatagram('s3cret', ping);
    expect(signed.sig).toMatch(/^[0-9a-f]{64}$/);
    expect(datagramSignatureValid('s3cret', signed)).toBe(true);
    expect(datagramSignatureValid('other', signed)).toBe(false);
    expect(datagramSignatureValid('s3cret', ping)).toBe(false);
    expect(datagramSignatureValid('s3cret', { ...signed, replyPort: 4001 })).toBe(false);
    // What a relay adds is not signed; without a secret everything passes.
    expect(datagramSignatureValid('s3cret', { ...signed, relayed: true, origin: '10.0.0.9' })).toBe(true);
    expect(datagramSignatureValid('', ping)).toBe(true);
    expect(signDatagram('', ping)).toEqual(ping);
  });
});

describe.skipIf(!NETNS.ok)('discovery in network namespaces', () => {
  beforeAll(() => {
    ensureBuilt();
  }, 120_000);

  const env = { ...process.env, DISPY_BROADCAST: '' };
  const node = (lab: NetLab, host: string, addr: string, broadcast: string, secret = '') => {
    dirs.push(`/tmp/dispy-ns-${lab.name(host)}`);
    return lab.spawn(
      host,
      [
        process.execPath,
        path.join(DIST, 'cli', 'dispynode.js'),
        '--ip_addr',
        addr,
        '--node_port',
        '51348',
        '--cpus',
        '1',
        '--daemon',
        '--broadcast',
        broadcast,
        '--clean',
        '--dest_path_prefix',
        `/tmp/dispy-ns-${lab.name(host)}`,
        ...(secret ? ['--secret', secret] : []),
      ],
      env,
    );
  };
  const client = (lab: NetLab, host: string, opts: object) =>
    lab.spawn(
      host,
      [
        process.execPath,
        path.join(PACKAGE_ROOT, 'scripts', 'run-ts.mjs'),
        'test/dispy/fixtures/discovery-client.ts',
        JSON.stringify(opts),
      ],
      env,
    );

  it('finds a node on the local network by broadcast, with signed datagrams', async () => {
    const lab = new NetLab('dsb');
    labs.push(lab);
    lab.host('c');
    lab.host('n');
    lab.link('c', '10.77.0.1/24', 'n', '10.77.0.2/24');
    await waitForLine(node(lab, 'n', '10.77.0.2', '10.77.0.255', 'k1'), /serving/);
    // No broadcast address given: the client derives it from its interface (inside the namespace).
    const c = client(lab, 'c', { nodes: ['10.77.0.*'], nodePort: 51348, ipAddr: '10.77.0.1', secret: 'k1' });
    const m = await waitForLine(c, /(\{"results".*\})\n/, 60_000);
    const out = JSON.parse(m[1]);
    expect(out.results).toEqual(['10.77.0.2:1', '10.77.0.2:2', '10.77.0.2:3']);
    expect(out.nodes).toEqual(['10.77.0.2']);
  });

  it('drops discovery datagrams not signed with its secret, both ways', async () => {
    const lab = new NetLab('dss');
    labs.push(lab);
    lab.host('c');
    lab.host('n');
    lab.host('m');
    lab.link('c', '10.79.0.1/24', 'n', '10.79.0.2/24');
    lab.link('c', '10.79.1.1/24', 'm', '10.79.1.2/24');
    await waitForLine(node(lab, 'n', '10.79.0.2', '10.79.0.255', 'k1'), /serving/);
    // A node without a secret: its pongs are unsigned.
    await waitForLine(node(lab, 'm', '10.79.1.2', '10.79.1.255'), /serving/);
    const run = async (opts: object) => {
      const c = client(lab, 'c', { nodePort: 51348, nodeTimeout: 2, ...opts });
      return JSON.parse((await waitForLine(c, /(\{"results".*\})\n/, 60_000))[1]) as { results: string[] };
    };
    // The node drops a ping signed with another secret: the client hears nothing (had the node
    // answered, the client would have tried to connect and failed authentication instead).
    const wrong = await run({ nodes: ['10.79.0.*'], broadcast: ['10.79.0.255'], secret: 'k2' });
    expect(wrong.results[0]).toMatch(/no dispy node was ready.*broadcast 10\.79\.0\.255:51348: no answer/);
    expect(wrong.results[0]).not.toMatch(/authentication/);
    // A client with a secret drops the unsigned pong of the node without one.
    const unsigned = await run({ nodes: ['10.79.1.*'], broadcast: ['10.79.1.255'], secret: 'k1' });
    expect(unsigned.results[0]).toMatch(/no dispy node was ready.*no answer/);
    expect(unsigned.results[0]).not.toMatch(/10\.79\.1\.2:51348/);
  });

  it('finds a node behind a router through dispynetrelay', async () => {
    const lab = new NetLab('dsr');
    labs.push(lab);
    lab.host('c');
    lab.host('r');
    lab.host('n');
    lab.link('c', '10.78.1.1/24', 'r', '10.78.1.2/24');
    lab.link('r', '10.78.2.2/24', 'n', '10.78.2.3/24');
    lab.forward('r');
    lab.route('c', '10.78.2.0/24', '10.78.1.2');
    lab.route('n', '10.78.1.0/24', '10.78.2.2');
    // Signed datagrams pass through the relay, which has no secret.
    await waitForLine(node(lab, 'n', '10.78.2.3', '10.78.2.255', 'k3'), /serving/);
    // Without a relay the node cannot be found (broadcasts do not cross the router)...
    const alone = client(lab, 'c', {
      nodes: ['10.78.2.*'],
      broadcast: ['10.78.1.255'],
      nodePort: 51348,
      nodeTimeout: 2,
      secret: 'k3',
    });
    const m0 = await waitForLine(alone, /(\{"results".*\})\n/, 60_000);
    expect(JSON.parse(m0[1]).results[0]).toMatch(/no dispy node was ready/);
    // ...with dispynetrelay on the router, listed among the nodes, it is.
    const relay = lab.spawn(
      'r',
      [
        process.execPath,
        path.join(DIST, 'cli', 'dispynetrelay.js'),
        '--broadcast',
        '10.78.2.255',
        '--daemon',
      ],
      env,
    );
    await waitForLine(relay, /relaying/);
    const c = client(lab, 'c', {
      nodes: ['10.78.1.2', '10.78.2.*'],
      nodePort: 51348,
      broadcast: [],
      secret: 'k3',
    });
    const m = await waitForLine(c, /(\{"results".*\})\n/, 60_000);
    const out = JSON.parse(m[1]);
    expect(out.results).toEqual(['10.78.2.3:1', '10.78.2.3:2', '10.78.2.3:3']);
    expect(out.nodes).toEqual(['10.78.2.3']);
  });
});
