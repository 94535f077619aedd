/**
 * Debian's chromium driven by playwright-core, for the web UI tests: headless, no sandbox (CI
 * runs as root), no network of its own beyond the pages it is sent to.
 *
 * @example
 * describe.skipIf(!HAVE_CHROMIUM)('web UI', () => { ... await launchChromium({ width: 1366, height: 768 }) });
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** Whether chromium is installed (`.ci/run` installs it; the UI tests are skipped without). */
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** A fresh browser profile with one page of `viewport` size. */
export function launchChromium(viewport: { width: number; height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(path.join(os.tmpdir(), 'disco-ui-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
  });
}
