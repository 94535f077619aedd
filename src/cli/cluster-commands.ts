/**
 * The cluster subcommands of `disco`: nodeinfo, config (show or `--set`), blacklist,
 * whitelist, master-version, and the settings listing of `disco -v`.
 *
 * @example
 * await configCommand(ctx, { set: 'hosts.json' }); // [["node01:10", "4"]] → "table saved!"
 */
import { readFileSync } from 'node:fs';
import type { ConfigTable } from '../client/disco.js';
import type { CommandContext } from './command-context.js';
import type { CliContext } from './context.js';
import { formatNodeInfo, table, toJson } from './format.js';
import { CliExit } from './io.js';

/** `disco nodeinfo`. */
export async function nodeinfoCommand(ctx: CliContext, o: { json?: boolean }): Promise<void> {
  const info = await ctx.disco.nodeinfo();
  ctx.io.out(o.json ? toJson(info) : Object.keys(info).length ? formatNodeInfo(info) : 'no nodes configured');
}

/**
 * A configuration table from text: JSON (`[["host","cores"], ...]`) or lines of
 * `hostspec cores`. Cores become strings, as the master stores them.
 */
export function parseConfigTable(text: string): ConfigTable {
  const t = text.trim();
  let rows: unknown;
  if (t.startsWith('[')) {
    try {
      rows = JSON.parse(t);
    } catch (e) {
      throw new CliExit(`invalid JSON config table: ${(e as Error).message}`);
    }
  } else {
    rows = t
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter(Boolean)
      .map((l) => l.split(/\s+/));
  }
  if (!Array.isArray(rows)) throw new CliExit('a config table is a list of [hostspec, cores] rows');
  return rows.map((r, i) => {
    if (!Array.isArray(r) || r.length !== 2)
      throw new CliExit(`config row ${i + 1}: expected [hostspec, cores]`);
    return [String(r[0]), String(r[1])] as [string, string];
  });
}

/** `disco config [--set FILE]`: print the host table, or replace it (`-` = standard input). */
export async function configCommand(ctx: CliContext, o: { set?: string; json?: boolean }): Promise<void> {
  if (o.set !== undefined) {
    const text = readFileSync(o.set === '-' ? 0 : o.set, 'utf8');
    await ctx.disco.setConfig(parseConfigTable(text));
    ctx.io.out('table saved!');
    return;
  }
  const rows = await ctx.disco.getConfig();
  if (o.json) ctx.io.out(toJson(rows));
  else for (const r of rows) ctx.io.out(r.join('\t'));
}

/** `disco blacklist|whitelist <node>`. */
export async function listCommand(
  ctx: CliContext,
  which: 'blacklist' | 'whitelist',
  node: string,
): Promise<void> {
  await ctx.disco[which](node);
}

/** `disco master-version`. */
export async function masterVersionCommand(ctx: CliContext): Promise<void> {
  ctx.io.out(await ctx.disco.masterVersion());
}

/** `disco -v`: every setting and its value. */
export function printSettings(ctx: CommandContext): void {
  const all = ctx.settings.all();
  ctx.io.out(table(Object.entries(all).map(([k, v]) => [k, v === '' ? "''" : v])));
}
