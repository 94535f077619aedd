/**
 * `POST /disco/job/<anything>`: the raw job pack (wire spec §2). `Content-Length` is mandatory
 * (411 without it) and at most `DISCO_MAX_JOB_PACK` (413 `Job packet too large`); otherwise
 * the reply is always 200 with `["ok", name]` or `["error", "Job failed to start: ..."]`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contentLength, readBody } from './body.js';
import type { MasterContext } from './context.js';
import { HttpError, sendJson } from './reply.js';

export const JOB_TOO_LARGE = 'Job packet too large';

/** Read a job pack and answer with the submission result. */
export async function submitJob(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const limit = ctx.settings.int('DISCO_MAX_JOB_PACK');
  const len = contentLength(req);
  if (len === null) throw new HttpError(411, 'Content-Length is required to submit a job pack');
  if (len > limit) throw new HttpError(413, JOB_TOO_LARGE);
  const pack = await readBody(req, limit, JOB_TOO_LARGE);
  sendJson(res, await ctx.manager.submit(pack));
}
