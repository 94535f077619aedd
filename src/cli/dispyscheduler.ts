/**
 * `dispyscheduler`: shares dispy nodes between several client programs (SharedJobCluster).
 *
 * @example
 * // dispyscheduler --node 10.0.0.* --node_secret n --cluster_secret c --pulse_interval 5 --httpd
 */
import { Command, Option } from 'commander';
import { errorMessage } from '../common/errors.js';
import { dispyLogger } from '../dispy/log.js';
import { startMonitor } from '../dispy/monitor/server.js';
import { parseSize } from '../dispy/node/options.js';
import {
  DEFAULT_MONITOR_PORT,
  DEFAULT_NODE_PORT,
  DEFAULT_SCHEDULER_PORT,
} from '../dispy/protocol/constants.js';
import { DispyScheduler } from '../dispy/scheduler/daemon.js';
import { collect, num } from './program.js';

const program = new Command('dispyscheduler')
  .description('Schedule jobs of several dispy client programs (SharedJobCluster) on shared nodes')
  .option(
    '-n, --node <host>',
    'node (name, address, host:port or wildcard); repeatable',
    collect,
    [] as string[],
  )
  .option('-i, --ip_addr <addr>', 'address to serve clients on')
  .option('--ext_ip_addr <addr>', 'address clients should use')
  .addOption(
    new Option('-p, --port <port>', 'port for clients').argParser(num).default(DEFAULT_SCHEDULER_PORT),
  )
  .addOption(
    new Option('--node_port <port>', 'port nodes serve on').argParser(num).default(DEFAULT_NODE_PORT),
  )
  .option('--node_secret <s>', 'secret shared with nodes', '')
  .option('--node_certfile <f>', 'TLS certificate toward nodes')
  .option('--node_keyfile <f>', 'TLS key toward nodes')
  .option('--cluster_secret <s>', 'secret shared with clients', '')
  .option('--cluster_certfile <f>', 'TLS certificate toward clients')
  .option('--cluster_keyfile <f>', 'TLS key toward clients')
  .addOption(
    new Option('--pulse_interval <s>', 'seconds between pulses; dead after 5 ×').argParser(num).default(10),
  )
  .addOption(new Option('--ping_interval <s>', 'seconds between node discoveries').argParser(num).default(0))
  .addOption(
    new Option('--zombie_interval <min>', 'close computations of vanished clients after')
      .argParser(num)
      .default(60),
  )
  .option('--dest_path_prefix <dir>', 'directory for files')
  .option('--max_file_size <size>', 'largest file accepted from clients (0 = unlimited)', '0')
  .option('--fair_cluster_scheduler', 'schedule the cluster scheduled least recently first', false)
  .option('--early_cluster_scheduler', 'schedule the earliest created cluster first', false)
  .option('--cleanup_nodes', "always delete computations' files on nodes", false)
  .option('--httpd', 'start the monitor web page', false)
  .addOption(new Option('--httpd_port <port>', 'monitor port').argParser(num).default(DEFAULT_MONITOR_PORT))
  .option('--no-discovery', 'no UDP discovery')
  .option('--broadcast <addrs>', 'comma-separated broadcast addresses for discovery')
  .option(
    '--clean',
    'discard the computations a previous scheduler left (otherwise they are taken up)',
    false,
  )
  .option('--daemon', 'do not read stdin', false)
  .option('-d, --debug', 'debug logging', false);

async function main(): Promise<void> {
  program.parse();
  const o = program.opts();
  const log = dispyLogger('dispyscheduler', o.debug ? 'debug' : 'info', 'info');
  const sched = new DispyScheduler({
    nodes: o.node.length ? o.node : ['*'],
    ipAddr: o.ip_addr,
    extIpAddr: o.ext_ip_addr,
    port: o.port,
    nodePort: o.node_port,
    nodeSecret: o.node_secret,
    nodeCertfile: o.node_certfile,
    nodeKeyfile: o.node_keyfile,
    clusterSecret: o.cluster_secret,
    clusterCertfile: o.cluster_certfile,
    clusterKeyfile: o.cluster_keyfile,
    pulseInterval: o.pulse_interval,
    pingInterval: o.ping_interval,
    zombieInterval: o.zombie_interval,
    destPathPrefix: o.dest_path_prefix,
    maxFileSize: parseSize(o.max_file_size),
    policy: o.fair_cluster_scheduler
      ? 'fair-cluster'
      : o.early_cluster_scheduler
        ? 'first-cluster'
        : 'earliest-job',
    cleanupNodes: o.cleanup_nodes,
    discovery: o.discovery,
    broadcast: o.broadcast ? String(o.broadcast).split(',') : undefined,
    clean: o.clean,
    log,
  });
  await sched.start();
  let monitorPort = 0;
  if (o.httpd) {
    const mon = await startMonitor({ source: sched, port: o.httpd_port, host: o.ip_addr });
    monitorPort = mon.port;
  }
  process.stdout.write(
    `dispyscheduler serving ${o.ip_addr ?? '0.0.0.0'}:${sched.port}${monitorPort ? ` monitor=${monitorPort}` : ''}\n`,
  );
  const shutdown = () => void sched.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((e) => {
  process.stderr.write(`dispyscheduler: ${errorMessage(e)}\n`);
  process.exit(1);
});
