/**
 * `dispynetrelay`: relays dispy discovery into the networks of this machine (see
 * `src/dispy/relay/relay.ts`).
 *
 * @example
 * // dispynetrelay --broadcast 10.0.2.255
 */
import { Command, Option } from 'commander';
import { errorMessage } from '../common/errors.js';
import { dispyLogger } from '../dispy/log.js';
import { DEFAULT_CLIENT_PORT, DEFAULT_NODE_PORT } from '../dispy/protocol/constants.js';
import { DispyNetRelay } from '../dispy/relay/relay.js';
import { collect, num } from './program.js';

const program = new Command('dispynetrelay')
  .description('Relay dispy node discovery into the networks of this machine')
  .option('-i, --ip_addr <addr>', 'relay into the network of this local address (default: all)')
  .addOption(new Option('--relay_port <port>', "UDP port for clients' pings").argParser(num))
  .addOption(
    new Option('--node_port <port>', 'port nodes listen on').argParser(num).default(DEFAULT_NODE_PORT),
  )
  .addOption(
    new Option('--client_port <port>', 'port clients hear announcements on')
      .argParser(num)
      .default(DEFAULT_CLIENT_PORT),
  )
  .option('--broadcast <addrs>', 'comma-separated broadcast addresses to relay to')
  .option(
    '--scheduler_node <host:port>',
    'also forward node announcements here; repeatable',
    collect,
    [] as string[],
  )
  .option('--daemon', 'do not read stdin', false)
  .option('-d, --debug', 'debug logging', false);

async function main(): Promise<void> {
  program.parse();
  const o = program.opts();
  const log = dispyLogger('dispynetrelay', o.debug ? 'debug' : 'info', 'info');
  const relay = new DispyNetRelay({
    ipAddr: o.ip_addr,
    relayPort: o.relay_port ?? o.node_port,
    nodePort: o.node_port,
    clientPort: o.client_port,
    broadcast: o.broadcast ? String(o.broadcast).split(',') : undefined,
    schedulers: o.scheduler_node,
    log,
  });
  await relay.start();
  process.stdout.write(`dispynetrelay relaying on port ${o.relay_port ?? o.node_port}\n`);
  const stop = () => {
    relay.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`dispynetrelay: ${errorMessage(e)}\n`);
  process.exit(1);
});
