/**
 * Where helpers that open URLs by themselves (`taskInputStream` without a stream, `parseDir`)
 * read from: inside a task, the task's node (local files for data on this node, HTTP for
 * the rest); outside a task (a job function tried locally, client code), HTTP at the
 * settings' `DISCO_PORT` and `DISCO_MASTER`. Downloads go to a temporary directory of this
 * process, removed when it exits.
 *
 * @example
 * const s = openUrl('disco://n1/disco/n1/ab/Job@1:2:3/map-0', currentOpenContext());
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../common/settings.js';
import { currentTask } from '../context.js';
import { type OpenContext, taskOpenContext } from './open-url.js';

let tmp: string | null = null;

function tmpDir(): string {
  if (tmp === null) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'disco-ts-open-'));
    tmp = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return tmp;
}

/** The context for opening URLs here and now (see module docs). */
export function currentOpenContext(): OpenContext {
  const task = currentTask();
  if (task) return taskOpenContext(task, tmpDir);
  const settings = loadSettings();
  // No host and no data roots: nothing is taken for local, everything goes over HTTP.
  return {
    host: '',
    discoPort: Number(settings.get('DISCO_PORT')),
    discoData: '',
    ddfsData: '',
    master: settings.get('DISCO_MASTER'),
    get tmpDir() {
      return tmpDir();
    },
  };
}
