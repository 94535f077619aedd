/**
 * `POST /disco/ctrl/<op>` (wire spec §1.2; `disco_web.erl` `postop/2`). Payloads are checked
 * like the original's `json_validator`: a wrong shape gets 400 with a JSON string message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readJson } from './body.js';
import type { MasterContext } from './context.js';
import { badRequest, notFound, sendJson } from './reply.js';

/** Longest `get_results` wait honoured (the client polls every 2 s by default). */
export const MAX_RESULTS_WAIT_MS = 24 * 3600 * 1000;

const GetResultsSchema = z.tuple([z.number().int(), z.array(z.string())]);

const OPS = new Set([
  'kill_job',
  'purge_job',
  'clean_job',
  'get_results',
  'blacklist',
  'whitelist',
  'gc_blacklist',
  'gc_whitelist',
  'save_config_table',
  'save_settings',
]);

/** Answer one POST ctrl op; unknown ops 404, malformed payloads 400. */
export async function ctrlPost(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  op: string,
): Promise<void> {
  if (!OPS.has(op)) throw notFound();
  const json = await readJson(req);
  const { manager, config } = ctx;
  switch (op) {
    case 'kill_job':
      await manager.kill(str(json));
      return sendJson(res, '');
    case 'purge_job':
      await manager.purge(str(json));
      return sendJson(res, '');
    case 'clean_job':
      await manager.clean(str(json));
      return sendJson(res, '');
    case 'blacklist':
      await config.setBlacklisted(str(json), true);
      return sendJson(res, '');
    case 'whitelist':
      await config.setBlacklisted(str(json), false);
      return sendJson(res, '');
    case 'gc_blacklist':
      await config.setGcBlacklisted(str(json), true);
      return sendJson(res, '');
    case 'gc_whitelist':
      await config.setGcBlacklisted(str(json), false);
      return sendJson(res, '');
    case 'get_results':
      return getResults(ctx, res, json);
    case 'save_config_table': {
      const error = await config.saveTable(json);
      if (error) throw badRequest(error);
      return sendJson(res, 'table saved!');
    }
    case 'save_settings':
      return saveSettings(ctx, res, json);
  }
}

function str(json: unknown): string {
  if (typeof json !== 'string') throw badRequest(`string expected, '${JSON.stringify(json)}' received`);
  return json;
}

async function getResults(ctx: MasterContext, res: ServerResponse, json: unknown) {
  const parsed = GetResultsSchema.safeParse(json);
  if (!parsed.success)
    throw badRequest(`[timeout, [jobname, ...]] expected, '${JSON.stringify(json)}' received`);
  const [timeout, names] = parsed.data;
  const jobs = ctx.manager.jobs;
  // A client that hangs up stops the wait.
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.on('close', onClose);
  try {
    await jobs.waitAny(names, Math.min(Math.max(0, timeout), MAX_RESULTS_WAIT_MS), gone.signal);
  } finally {
    res.off('close', onClose);
  }
  if (gone.signal.aborted) return;
  sendJson(
    res,
    names.map((n) => [n, jobs.resultStatus(n)]),
  );
}

async function saveSettings(ctx: MasterContext, res: ServerResponse, json: unknown): Promise<void> {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw badRequest(`object/dict expected, '${JSON.stringify(json)}' received`);
  for (const [key, value] of Object.entries(json)) {
    if (key !== 'max_failure_rate') {
      ctx.log.info({ key }, 'unknown setting ignored');
      continue;
    }
    // The UI sends a decimal string; a plain integer is accepted too.
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || !/^\s*\d+\s*$/.test(text) || Number.parseInt(text, 10) < 1)
      throw badRequest(
        `max_failure_rate must be a positive decimal number, '${JSON.stringify(value)}' received`,
      );
    await ctx.config.setMaxFailureRate(Number.parseInt(text, 10));
  }
  sendJson(res, 'Settings saved');
}
