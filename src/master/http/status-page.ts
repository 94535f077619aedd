/**
 * `/` and other non-API paths: the web UI (pages, live fragments, `/metrics`, `/health`,
 * static files of `DISCO_WWW_ROOT`), implemented in ui/router.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MasterContext } from './context.js';
import { handleUi } from './ui/router.js';

/** Answer a request outside `/disco` and `/ddfs`. */
export function handleWeb(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  return handleUi(ctx, req, res, path);
}
