/**
 * The `disco` command line (the original's `bin/disco`, wire spec §1.4): start and stop the
 * master, run a node, submit and follow jobs, read results, manage the cluster. Human output
 * by default, `--json` on listing commands; a failure exits non-zero with a one-line message
 * (the stack trace too when DISCO_DEBUG is set). Job names accept `@` (the most recent job)
 * and `@?text` (the most recent job whose name contains text).
 *
 * @example
 * // disco start
 * // disco run examples/wordcount.ts examples/data/sample.txt --wait
 * // disco results @?WordCount | sort -k2 -n | tail
 */

import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from './command-context.js';
import { CliExit, type Io, processIo } from './io.js';
import { actionsWith, collect, newProgram, runIfProgram, runProgram } from './program.js';

/*
 * The subcommands, each group loaded when one of its commands runs: `--help`, `--version` and
 * usage errors need only commander, and the daemon commands (`status`, `start`, …) no client.
 */
const daemonCommands = () => import('./daemon-control.js');
const jobCommands = () => import('./job-commands.js');
const clusterCommands = () => import('./cluster-commands.js');

/** Build the program. `exit` receives the status of commands that end with one. */
export function buildProgram(io: Io = processIo, setExit: (code: number) => void = () => undefined): Command {
  const program = newProgram('disco', 'Disco MapReduce: control the master, run and follow jobs', io)
    .option('-v, --verbose', 'print every setting (with no command: only that)')
    .option('-s, --settings <file>', 'settings file (default: DISCO_SETTINGS_FILE, ~/.disco)')
    .option('-m, --master <url>', 'master address (default: DISCO_MASTER)');
  /** The context of a command, its settings printed first with `-v`. */
  const showSettingsIfVerbose = async <C extends CommandContext>(ctx: C): Promise<C> => {
    if (ctx.options.verbose) (await clusterCommands()).printSettings(ctx);
    return ctx;
  };
  /** Actions of the commands that talk to the master through the client. */
  const act = actionsWith(async (cmd) => {
    const { CliContext } = await import('./context.js');
    return showSettingsIfVerbose(new CliContext(cmd.optsWithGlobals<GlobalOptions>(), io));
  }, setExit);
  /** Actions of the daemon commands, which need the settings only. */
  const daemonAct = actionsWith(
    (cmd) => showSettingsIfVerbose(new CommandContext(cmd.optsWithGlobals<GlobalOptions>(), io)),
    setExit,
  );

  program.action(async (_opts: unknown, cmd: Command) => {
    if (cmd.args.length > 0)
      throw new CliExit(`unknown command '${cmd.args[0]}' (disco --help lists the commands)`);
    const { CliContext } = await import('./context.js');
    const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>(), io);
    if (ctx.options.verbose) (await clusterCommands()).printSettings(ctx);
    else io.out(`${ctx.disco.toString()}\n\n${program.helpInformation().trimEnd()}`);
  });

  // -- the master and nodes --
  program
    .command('start')
    .description('start the master (and the nodes of this machine) as a daemon')
    .action(daemonAct(async (ctx) => (await daemonCommands()).startMaster(ctx)));
  program
    .command('stop')
    .description('stop the master')
    .action(daemonAct(async (ctx) => (await daemonCommands()).stopMaster(ctx)));
  program
    .command('restart')
    .description('stop, then start the master')
    .action(
      daemonAct(async (ctx) => {
        const { startMaster, stopMaster } = await daemonCommands();
        await stopMaster(ctx);
        await startMaster(ctx);
      }),
    );
  program
    .command('status')
    .description('whether the master runs (exit status 3 if not)')
    .action(daemonAct(async (ctx) => (await daemonCommands()).masterStatus(ctx)));
  program
    .command('nodaemon')
    .description('run the master in the foreground, logging to this terminal')
    .action(daemonAct(async (ctx) => (await daemonCommands()).masterForeground(ctx)));
  program
    .command('node')
    .description('run a node daemon in the foreground')
    .option('--master <url>', 'master to join (default: DISCO_MASTER)')
    .option('--host <name>', 'this node\u2019s name in the master\u2019s config (default: DISCO_NODE_NAME)')
    .option('--no-data-server', 'do not serve this node\u2019s data over HTTP (it shares the master\u2019s)')
    .action(
      daemonAct(async (ctx, o: { master?: string; host?: string; dataServer?: boolean }) =>
        (await daemonCommands()).nodeForeground(ctx, {
          master: o.master,
          host: o.host,
          dataServer: o.dataServer,
        }),
      ),
    );

  // -- jobs --
  program
    .command('run')
    .description('submit the job of a module (module.ts[:Export]) and print its name')
    .argument('<module>', 'job module, optionally :ExportName (a Job subclass)')
    .argument('[inputs...]', 'input URLs (default: one per line on standard input)')
    .option('-n, --name <prefix>', 'job name prefix')
    .option(
      '-P, --param <key=value>',
      'set a job option, e.g. params={"pattern":"x"} (JSON or text)',
      collect,
    )
    .option('-S, --scheduler <key=value>', 'scheduler option: maxCores, forceLocal, forceRemote', collect)
    .option('--partitions <n>', 'number of partitions')
    .option('--sort', 'sort reduce inputs')
    .option('--save', 'save the results in DDFS')
    .option('--profile', 'profile the tasks')
    .option('-w, --wait', 'wait for the job, then print its result URLs')
    .option('--show [format]', 'wait, printing events (color, nocolor, json)')
    .option('--no-progress', 'no progress bar while waiting (it only shows on a terminal)')
    .action(
      act(async (ctx, spec: string, inputs: string[], o) =>
        (await jobCommands()).runCommand(ctx, spec, inputs, o),
      ),
    );
  program
    .command('submit')
    .description('submit a job pack file (default: standard input)')
    .argument('[file]')
    .action(act(async (ctx, file: string | undefined) => (await jobCommands()).submitCommand(ctx, file)));
  program
    .command('wait')
    .description('wait for a job to end, then print its result URLs')
    .argument('<job>')
    .option('--show [format]', 'print events while waiting (color, nocolor, json)')
    .option('--timeout <seconds>', 'give up after this long')
    .option('--json', 'print the results as JSON')
    .option('--no-progress', 'no progress bar (it only shows on a terminal)')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).waitCommand(ctx, job, o)));
  program
    .command('results')
    .description('print the records of a finished job as key<TAB>value lines')
    .argument('<job>')
    .option('--json', 'one JSON [key, value] per line')
    .option('--urls', 'print the result URLs instead of the records')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).resultsCommand(ctx, job, o)));
  program
    .command('events')
    .description('print the events of a job')
    .argument('<job>')
    .option('-f, --follow', 'keep printing until the job ends')
    .option('-o, --offset <bytes>', 'start at this offset of the events file')
    .option('--json', 'one JSON [time, host, message] per line')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).eventsCommand(ctx, job, o)));
  program
    .command('jobs')
    .description('list jobs, newest first')
    .option('-S, --status', 'show each job\u2019s status')
    .option('--json', 'print JSON')
    .action(act(async (ctx, o) => (await jobCommands()).jobsCommand(ctx, o)));
  program
    .command('info')
    .alias('jobinfo')
    .description('show a job\u2019s status, tasks and results')
    .argument('<job>')
    .option('--json', 'print JSON')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).infoCommand(ctx, job, o)));
  for (const action of ['kill', 'purge', 'clean'] as const) {
    const what = {
      kill: 'kill jobs',
      purge: 'delete jobs and all their data',
      clean: 'forget jobs on the master, keeping their data (deprecated: use purge)',
    }[action];
    program
      .command(action)
      .description(what)
      .argument('<jobs...>')
      .action(act(async (ctx, jobs: string[]) => (await jobCommands()).jobActionCommand(ctx, action, jobs)));
  }
  program
    .command('mapresults')
    .description('print the results of a job\u2019s map phase')
    .argument('<job>')
    .option('--json', 'print JSON')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).mapresultsCommand(ctx, job, o)));
  program
    .command('jobdict')
    .description('print the jobdict a job was submitted with')
    .argument('<job>')
    .option('--json', 'print JSON')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).jobdictCommand(ctx, job, o)));

  program
    .command('trace')
    .description('write a job\u2019s task timeline as a Chrome trace (chrome://tracing, Perfetto)')
    .argument('<job>')
    .option('-o, --output <file>', 'output file (default: <job>.trace.json; - = standard output)')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).traceCommand(ctx, job, o)));
  const oob = program
    .command('oob')
    .description('list (disco oob <job>) or get the out-of-band results of a job')
    .argument('[job]')
    .option('--json', 'print JSON')
    .action(
      act(async (ctx, job: string | undefined, o) => {
        if (!job) throw new CliExit('usage: disco oob list <job> | disco oob get <key> <job>');
        return (await jobCommands()).oobListCommand(ctx, job, o);
      }),
    );
  oob
    .command('list')
    .description('print the keys of a job\u2019s out-of-band results')
    .argument('<job>')
    .option('--json', 'print JSON')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).oobListCommand(ctx, job, o)));
  oob
    .command('get')
    .description('print the out-of-band value of key in job')
    .argument('<key>')
    .argument('<job>')
    .option('-o, --output <file>', 'write the value (bytes as they are) to a file')
    .action(
      act(async (ctx, key: string, job: string, o) => (await jobCommands()).oobGetCommand(ctx, key, job, o)),
    );
  program
    .command('pstats')
    .description('print the profile of a job run with profile: true (functions by time)')
    .argument('<job>')
    .option('--mode <phase>', 'only the map or the reduce tasks')
    .option('-k, --sort-stats <key>', 'sort by cumulative (default) or self time (pstats: cumtime, tottime)')
    .option('-n, --limit <rows>', 'show only the first rows')
    .option('--filter <text>', 'only functions whose name or file contains text')
    .option('-o, --output <file>', 'also write the merged profile (.cpuprofile, for Chrome DevTools)')
    .action(act(async (ctx, job: string, o) => (await jobCommands()).pstatsCommand(ctx, job, o)));

  // -- the cluster --
  program
    .command('nodeinfo')
    .description('show the nodes and their state')
    .option('--json', 'print JSON')
    .action(act(async (ctx, o) => (await clusterCommands()).nodeinfoCommand(ctx, o)));
  program
    .command('config')
    .description('print the host table (hostspec<TAB>cores), or replace it')
    .option('--set <file>', 'new table: JSON [["host","cores"],...] or "host cores" lines; - = stdin')
    .option('--json', 'print JSON')
    .action(act(async (ctx, o) => (await clusterCommands()).configCommand(ctx, o)));
  for (const which of ['blacklist', 'whitelist'] as const) {
    program
      .command(which)
      .description(which === 'blacklist' ? 'stop running tasks on a node' : 'allow tasks on a node again')
      .argument('<node>')
      .action(act(async (ctx, node: string) => (await clusterCommands()).listCommand(ctx, which, node)));
  }
  program
    .command('master-version')
    .alias('master_version')
    .description('print the master\u2019s version')
    .action(act(async (ctx) => (await clusterCommands()).masterVersionCommand(ctx)));
  return program;
}

/** Run the command line; resolves with the exit status. */
export function main(argv: readonly string[] = process.argv, io: Io = processIo): Promise<number> {
  return runProgram(argv, { name: 'disco', build: (setExit) => buildProgram(io, setExit), io });
}

runIfProgram('disco', () => main());
