/**
 * Entry point of the master process (`dist/master.js`): settings from the environment and the
 * settings file, JSON logs on stdout (level from `DISCO_DEBUG`: `off` → info, `log` → debug,
 * `trace` → trace), clean shutdown on SIGTERM/SIGINT.
 */
import { pino } from 'pino';
import { errorMessage } from '../common/errors.js';
import { loadSettings } from '../common/settings.js';
import { startMaster } from './master.js';

const LEVELS: Record<string, string> = { log: 'debug', trace: 'trace' };

async function main(): Promise<void> {
  const settings = loadSettings();
  const log = pino({ name: 'disco-master', level: LEVELS[settings.get('DISCO_DEBUG')] ?? 'info' });
  let master: Awaited<ReturnType<typeof startMaster>>;
  try {
    master = await startMaster(settings, { logger: log });
  } catch (e) {
    log.fatal({ err: e }, `master failed to start: ${errorMessage(e)}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Do not hang forever on a stuck close.
    setTimeout(() => process.exit(1), 10_000).unref();
    master.close().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  console.error(`master failed to start: ${errorMessage(e)}`);
  process.exit(1);
});
