/**
 * Entry point of `dist/node.js`: `node dist/node.js --host NAME --master URL [--no-data-server]`.
 * Defaults: `--host` = DISCO_NODE_NAME, `--master` = DISCO_MASTER. Logs JSON lines (pino) on
 * stdout; SIGTERM/SIGINT kill every worker and exit cleanly.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadSettings } from '../common/settings.js';
import { startNode } from './daemon.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    master: { type: 'string' },
    'no-data-server': { type: 'boolean', default: false },
  },
  strict: true,
});

const settings = loadSettings();
const log = pino({ level: settings.flag('DISCO_DEBUG') ? 'debug' : 'info', base: { proc: 'node' } });
const node = await startNode(settings, {
  host: values.host ?? settings.get('DISCO_NODE_NAME'),
  master: values.master ?? settings.get('DISCO_MASTER'),
  dataServer: !values['no-data-server'],
  log,
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  try {
    await node.close();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
