/**
 * `dispynode`: the dispy node daemon (one per machine). Options follow the original's names.
 *
 * @example
 * // dispynode --cpus -1 --secret s3cret --ip_addr 10.0.0.2 --dest_path_prefix /var/tmp
 */
import { Command, Option } from 'commander';
import { errorMessage } from '../common/errors.js';
import { dispyLogger } from '../dispy/log.js';
import { DispyNodeDaemon } from '../dispy/node/daemon.js';
import { parseSize } from '../dispy/node/options.js';
import { DEFAULT_CLIENT_PORT, DEFAULT_NODE_PORT } from '../dispy/protocol/constants.js';
import { num } from './program.js';

const program = new Command('dispynode')
  .description('Run dispy jobs sent by clients (JobCluster) or dispyscheduler on this machine')
  .addOption(
    new Option('-c, --cpus <n>', 'CPUs to use (0 = all, negative = all but that many)')
      .argParser(num)
      .default(0),
  )
  .option('-s, --secret <secret>', 'shared secret clients must know', '')
  .option('-i, --ip_addr <addr>', 'address to serve on (default: all interfaces)')
  .option('--ext_ip_addr <addr>', 'address clients should use (NAT / cloud)')
  .addOption(new Option('--node_port <port>', 'TCP/UDP port').argParser(num).default(DEFAULT_NODE_PORT))
  .addOption(
    new Option('--client_port <port>', 'UDP port clients listen on for announcements')
      .argParser(num)
      .default(DEFAULT_CLIENT_PORT),
  )
  .option('--dest_path_prefix <dir>', 'directory for computations (default: the system temporary directory)')
  .option('--max_file_size <size>', 'largest file accepted or sent (e.g. 10M; 0 = unlimited)', '10M')
  .addOption(
    new Option('--zombie_interval <minutes>', 'clean up computations whose client vanished after this long')
      .argParser(num)
      .default(60),
  )
  .addOption(
    new Option('--ping_interval <seconds>', 're-announce this node this often while idle')
      .argParser(num)
      .default(0),
  )
  .addOption(
    new Option('--serve <n>', 'exit after serving this many clients (-1 = forever)')
      .argParser(num)
      .default(-1),
  )
  .option('--clean', 'kill processes and delete files a crashed dispynode left behind', false)
  .option('--daemon', 'do not read commands from stdin', false)
  .option('--certfile <file>', 'TLS certificate (PEM)')
  .option('--keyfile <file>', 'TLS private key (PEM; default: in certfile)')
  .option('--name <name>', 'name of this node (default: the host name)')
  .option('--no-discovery', 'do not answer or send UDP discovery datagrams')
  .option('--broadcast <addrs>', 'comma-separated broadcast addresses for announcements')
  .addOption(
    new Option('--cancel_grace <seconds>', 'SIGINT → SIGTERM → SIGKILL step when stopping a job')
      .argParser(num)
      .default(2),
  )
  .option('-d, --debug', 'debug logging', false);

async function main(): Promise<void> {
  program.parse();
  const o = program.opts();
  const log = dispyLogger('dispynode', o.debug ? 'debug' : 'info', 'info');
  const node = new DispyNodeDaemon(
    {
      cpus: o.cpus,
      secret: o.secret,
      ipAddr: o.ip_addr,
      extIpAddr: o.ext_ip_addr,
      nodePort: o.node_port,
      clientPort: o.client_port,
      destPathPrefix: o.dest_path_prefix,
      maxFileSize: parseSize(o.max_file_size),
      zombieInterval: o.zombie_interval,
      pingInterval: o.ping_interval,
      serve: o.serve,
      clean: o.clean,
      certfile: o.certfile,
      keyfile: o.keyfile,
      name: o.name,
      discovery: o.discovery,
      broadcast: o.broadcast ? String(o.broadcast).split(',') : undefined,
      cancelGrace: o.cancel_grace,
    },
    log,
  );
  await node.start();
  // The port line lets scripts (and tests) learn a port chosen with --node_port 0.
  process.stdout.write(
    `dispynode ${node.opts.name} serving ${node.ipAddr}:${node.port} cpus=${node.opts.cpus}\n`,
  );
  let signals = 0;
  const shutdown = (sig: string) => {
    signals++;
    if (signals > 1) process.exit(1);
    log.info(`${sig}: shutting down`);
    void node.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  if (!o.daemon && process.stdin.isTTY) {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => {
      const cmd = d.trim();
      if (cmd === 'quit' || cmd === 'exit') shutdown(cmd);
      else process.stdout.write(`${JSON.stringify(node.info())}\n`);
    });
  }
  await node.stopped();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`dispynode: ${errorMessage(e)}\n`);
  process.exit(1);
});
