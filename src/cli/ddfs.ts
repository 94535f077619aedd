/**
 * The `ddfs` command line (the original's `bin/ddfs`, `bin/ddfscli.py`): push files and
 * chunks into DDFS, read blobs back raw (`cat`) or decoded (`xcat`), and manage tags, their
 * attributes and tokens. Settings come from the environment and the settings file (`-s`), the
 * master from `-m` or `DISCO_MASTER`, tokens from `-t` or `DDFS_READ_TOKEN` /
 * `DDFS_WRITE_TOKEN` (and `tag://user:TOKEN@/name` arguments). Long transfers draw a progress
 * line on stderr when it is a terminal.
 *
 * Exit status: 0 on success, 1 on failure (a one-line message on stderr, the stack too when
 * DISCO_DEBUG is set; `exists` also exits 1 for a missing tag), 2 on a usage error.
 *
 * @example
 * // ddfs chunk data:bigtxt ./bigfile.txt
 * // ddfs xcat data:bigtxt | less
 * // ddfs push data:both_sets ./xa?
 * // ddfs push -x data:photos ./photos.tar.gz
 * // ddfs chunk -T gunzip data:logs ./access.log.gz
 * // ddfs ls -r data:
 */

import type { Command } from 'commander';
import type { DdfsGlobalOptions } from './ddfs-context.js';
import { type DdfsIo, ddfsProcessIo } from './ddfs-io.js';
import { actionsWith, collect, newProgram, runIfProgram, runProgram } from './program.js';

/**
 * The subcommands, loaded (as their context, in `act`) when a command runs: `--help`,
 * `--version` and usage errors need only commander. In dist/ the command line is one file
 * (scripts/build.mjs), in which these imports only put off running the modules' code.
 */
const commands = () => import('./ddfs-commands.js');

/** `-i` and `-p`, as the original's `add_program_blobs`. */
function blobsOptions(cmd: Command, prefix = true): Command {
  cmd.option('-i, --ignore-missing', 'skip missing tags instead of failing');
  if (prefix) cmd.option('-p, --prefix-mode', 'tag arguments are prefixes: every tag starting with one');
  return cmd;
}

/** Build the program. `setExit` receives the status of commands that end with one. */
export function buildProgram(
  io: DdfsIo = ddfsProcessIo,
  setExit: (code: number) => void = () => undefined,
): Command {
  const program = newProgram('ddfs', 'DDFS, the Disco Distributed Filesystem: push, read and tag data', io)
    .option('-s, --settings <file>', 'settings file (default: DISCO_SETTINGS_FILE, ~/.disco)')
    .option('-m, --master <url>', 'master address (default: DISCO_MASTER)')
    .option('-t, --token <token>', 'token for tag operations (default: DDFS_READ_TOKEN / DDFS_WRITE_TOKEN)');
  const act = actionsWith(async (cmd) => {
    const { DdfsContext } = await import('./ddfs-context.js');
    return new DdfsContext(cmd.optsWithGlobals<DdfsGlobalOptions>(), io);
  }, setExit);

  // -- data in --
  program
    .command('push')
    .description('push files as blobs and tag them')
    .argument('<tag>')
    .argument('[files...]')
    .option('-n, --replicas <n>', 'replicas per blob (default: DDFS_BLOB_REPLICAS)')
    .option('-r, --recursive', 'push the files of directories, recursively')
    .option('-u, --update', 'skip blobs whose names the tag already has')
    .option('-d, --delayed', 'delayed tag update')
    .option('-x, --tarballs', 'the files are tar archives (.tar, .tar.gz): push each file in them')
    .option('-I, --include <text>', 'with -x: only archive members whose path contains text')
    .option('-E, --exclude <text>', 'with -x: skip archive members whose path contains text')
    .option('-z, --compress', 'with -x: gzip each member (blob names end in _gz)')
    .action(
      act(async (ctx, tag: string, files: string[], o) => (await commands()).pushCommand(ctx, tag, files, o)),
    );
  blobsOptions(
    program
      .command('chunk')
      .description('cut inputs into record-aligned chunks (internal format), push and tag them')
      .argument('<tag>')
      .argument('[urls...]', 'files (with a /), URLs or tags (default: one per line on standard input)')
      .option('-n, --replicas <n>', 'replicas per chunk (default: DDFS_BLOB_REPLICAS)')
      .option('-u, --update', 'skip chunks whose names the tag already has')
      .option('-d, --delayed', 'delayed tag update')
      .option('-S, --chunk-size <bytes>', 'chunk size, e.g. 64M (default 64M)')
      .option('-z, --compression <level>', 'compress the chunks with this zlib level, 1-9 (default 0: none)')
      .option(
        '-R, --reader <reader>',
        'records from the input bytes: lines (default), records (the internal format), or module.ts:export',
      )
      .option(
        '-T, --stream <stream>',
        'transform the input bytes first: gunzip, or module.ts:export fn(bytes, url) (repeatable, applied in order)',
        collect,
        [],
      ),
  ).action(
    act(async (ctx, tag: string, urls: string[], o) => (await commands()).chunkCommand(ctx, tag, urls, o)),
  );
  program
    .command('tag')
    .description('add urls to a tag (creates it); replicas of one blob: one quoted argument')
    .argument('<tag>')
    .argument('[urls...]', 'default: one per line on standard input')
    .option('-u, --update', 'skip urls whose blob names the tag already has')
    .option('-d, --delayed', 'delayed tag update')
    .action(
      act(async (ctx, tag: string, urls: string[], o) => (await commands()).tagCommand(ctx, tag, urls, o)),
    );
  program
    .command('put')
    .description('replace the urls of a tag (creates it)')
    .argument('<tag>')
    .argument('[urls...]', 'default: one per line on standard input')
    .action(act(async (ctx, tag: string, urls: string[]) => (await commands()).putCommand(ctx, tag, urls)));
  program
    .command('touch')
    .description('create tags that do not exist')
    .argument('[tags...]')
    .action(act(async (ctx, tags: string[]) => (await commands()).touchCommand(ctx, tags)));
  program
    .command('cp')
    .description('copy the urls of a tag to another (replacing them)')
    .argument('<source>')
    .argument('<target>')
    .action(act(async (ctx, src: string, dst: string) => (await commands()).cpCommand(ctx, src, dst)));

  // -- data out --
  blobsOptions(
    program
      .command('cat')
      .description('print the raw bytes of urls, then of the blobs of tags')
      .argument('[urls...]', 'default: one per line on standard input')
      .option('-j, --job-mode', 'arguments are job names: print their results'),
  ).action(act(async (ctx, urls: string[], o) => (await commands()).catCommand(ctx, urls, o)));
  blobsOptions(
    program
      .command('xcat')
      .description('print the records (internal format) of urls and of the blobs of tags: key<TAB>value')
      .argument('[urls...]', 'default: one per line on standard input')
      .option('-j, --job-mode', 'arguments are job names: print their results')
      .option(
        '-R, --reader <module:export>',
        'reader function(stream, size, url, params) instead of the format',
      )
      .option(
        '-T, --stream <module:export>',
        'input stream function(stream, size, url, params) before the reader (repeatable, applied in order)',
        collect,
        [],
      )
      .option('--json', 'one JSON record per line'),
  ).action(
    act(async (ctx, urls: string[], o) => {
      const all = await (await commands()).xcatInputs(ctx, urls, o);
      return (await import('./ddfs-xcat.js')).xcatCommand(ctx, all, o);
    }),
  );
  blobsOptions(
    program
      .command('blobs')
      .description('list the blobs reachable from tags (replicas tab-separated)')
      .argument('[tags...]')
      .option('--json', 'print JSON'),
  ).action(act(async (ctx, tags: string[], o) => (await commands()).blobsCommand(ctx, tags, o)));
  program
    .command('get')
    .description('print the tag object (JSON)')
    .argument('<tag>')
    .action(act(async (ctx, tag: string) => (await commands()).getCommand(ctx, tag)));
  blobsOptions(
    program
      .command('urls')
      .description('print the urls of tags (replicas tab-separated)')
      .argument('[tags...]')
      .option('--json', 'print JSON'),
    true,
  ).action(act(async (ctx, tags: string[], o) => (await commands()).urlsCommand(ctx, tags, o)));

  // -- tags --
  blobsOptions(
    program
      .command('ls')
      .description('list tags with the prefixes (default: all tags)')
      .argument('[prefixes...]')
      .option('-r, --recursive', 'also list the blobs reachable from each tag')
      .option('--json', 'print JSON'),
    false,
  ).action(act(async (ctx, prefixes: string[], o) => (await commands()).lsCommand(ctx, prefixes, o)));
  program
    .command('exists')
    .description('print True and exit 0 if the tag exists, else print False and exit 1')
    .argument('<tag>')
    .action(act(async (ctx, tag: string) => (await commands()).existsCommand(ctx, tag)));
  blobsOptions(
    program
      .command('find')
      .description('walk the tag graph from tags, printing each tag path')
      .argument('[tags...]')
      .option('-w, --warn-missing', 'report missing tags (implies -i)'),
  ).action(act(async (ctx, tags: string[], o) => (await commands()).findCommand(ctx, tags, o)));
  program
    .command('stat')
    .description('print version, id, last-modified and attributes of tags')
    .argument('[tags...]')
    .option('-p, --prefix-mode', 'tag arguments are prefixes')
    .option('--json', 'print JSON')
    .action(act(async (ctx, tags: string[], o) => (await commands()).statCommand(ctx, tags, o)));
  program
    .command('rm')
    .description('delete tags (their blobs go when no tag refers to them)')
    .argument('[tags...]')
    .option('-p, --prefix-mode', 'tag arguments are prefixes')
    .action(act(async (ctx, tags: string[], o) => (await commands()).rmCommand(ctx, tags, o)));
  program
    .command('attrs')
    .description('print the attributes of a tag (name<TAB>value)')
    .argument('<tag>')
    .option('--json', 'print JSON')
    .action(act(async (ctx, tag: string, o) => (await commands()).attrsCommand(ctx, tag, o)));
  program
    .command('getattr')
    .description('print one attribute of a tag')
    .argument('<tag>')
    .argument('<attr>')
    .action(act(async (ctx, tag: string, attr: string) => (await commands()).getattrCommand(ctx, tag, attr)));
  program
    .command('setattr')
    .description('set an attribute of a tag')
    .argument('<tag>')
    .argument('<attr>')
    .argument('<value>')
    .action(
      act(async (ctx, tag: string, attr: string, value: string) =>
        (await commands()).setattrCommand(ctx, tag, attr, value),
      ),
    );
  program
    .command('delattr')
    .description('delete an attribute of a tag')
    .argument('<tag>')
    .argument('<attr>')
    .action(act(async (ctx, tag: string, attr: string) => (await commands()).delattrCommand(ctx, tag, attr)));
  program
    .command('chtok')
    .description('change the read and/or write token of a tag (neither -r nor -w: both)')
    .argument('<tag>')
    .argument('<token>')
    .option('-r, --read', 'change the read token')
    .option('-w, --write', 'change the write token')
    .action(
      act(async (ctx, tag: string, token: string, o) => (await commands()).chtokCommand(ctx, tag, token, o)),
    );
  return program;
}

/** Run the command line; resolves with the exit status (2 for a usage error). */
export function main(argv: readonly string[] = process.argv, io: DdfsIo = ddfsProcessIo): Promise<number> {
  return runProgram(argv, {
    name: 'ddfs',
    build: (setExit) => buildProgram(io, setExit),
    io,
  });
}

runIfProgram('ddfs', () => main());
