/**
 * `ddfs xcat`: the records of blobs, decoded. Built into the library's shared chunks
 * (dist/cli/ddfs-xcat.js) rather than into the `ddfs` bundle: a `-R` reader or `-T` stream
 * module imports `disco-ts`, and its errors and input streams must be the same classes as
 * those of the result iterator reading with them (a `DataError` of a bad replica moves on to
 * the next replica; the bundle's own copy of the class would not recognise it).
 *
 * @example
 * // ddfs xcat -R ./reader.mjs:words data:words
 */
import { DataError } from '../common/errors.js';
import type { StreamFunction } from '../worker/readers/chain.js';
import { CLI_RETRY } from './command-context.js';
import type { UrlArg } from './ddfs-commands.js';
import type { DdfsContext } from './ddfs-context.js';
import { CliExit } from './io.js';
import { loadFunction } from './run-module.js';
import { xcatFast } from './xcat-fast.js';

/** The `-T` stream functions of `xcat`: module:export functions `fn(stream, size, url, params)`. */
async function xcatStreams(specs: readonly string[] | undefined): Promise<StreamFunction[]> {
  const out: StreamFunction[] = [];
  for (const spec of specs ?? []) out.push((await loadFunction(spec, 'input stream')) as StreamFunction);
  return out;
}

/**
 * `ddfs xcat [url...]`: the records of URLs (then of the blobs of tags) in the internal
 * format, as `key<TAB>value` lines. A record whose value is null prints as its key alone, so
 * chunked text reads back as the text (as the original, whose chunks held bare lines).
 */
export async function xcatCommand(
  ctx: DdfsContext,
  all: readonly UrlArg[],
  o: { reader?: string; stream?: string[]; json?: boolean },
): Promise<void> {
  const reader = o.reader ? ((await loadFunction(o.reader, 'reader')) as StreamFunction) : undefined;
  const inputStream = await xcatStreams(o.stream);
  try {
    await xcatFast(all, {
      settings: ctx.settings,
      master: ctx.ddfs.master,
      write: (b) => ctx.write(b),
      retry: CLI_RETRY,
      reader,
      inputStream,
      json: o.json === true,
    });
  } catch (e) {
    if (e instanceof DataError) throw new CliExit(e.message);
    throw e;
  }
}
