/** A master whose port is taken fails to start with the bind error, and leaves nothing running. */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { listen } from '../../../src/common/http-listen.js';
import { startMaster } from '../../../src/master/master.js';
import { testSettings } from './helpers.js';

it('rejects with EADDRINUSE when the port is taken, and can start once it is free', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'disco-master-'));
  const other = await listen(http.createServer(), 0, '127.0.0.1');
  try {
    const settings = testSettings(root, { DISCO_PORT: String(other.port) });
    await expect(startMaster(settings)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await other.close();
    const m = await startMaster(testSettings(root, { DISCO_PORT: String(other.port) }));
    expect(m.port).toBe(other.port);
    expect((await fetch(`${m.url}/disco/version`)).ok).toBe(true);
    await m.close();
  } finally {
    await other.close();
    rmSync(root, { recursive: true, force: true });
  }
});
