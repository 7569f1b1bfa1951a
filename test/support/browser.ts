/**
 * Headless Chromium from Debian's package (`apt-get install chromium`, done by .ci/run), driven by playwright-core.
 * Playwright's own browser download cannot work here, so the system binary is used. Outside CI a missing browser
 * skips the browser tests with the reason; under CI=true it fails them.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env.ZEN_CHROMIUM ?? '/usr/bin/chromium';

/** undefined when the browser is there; otherwise why the tests skip (or, under CI, throw). */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set ZEN_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(`browser tests need Chromium under CI: ${why}`);
  return why;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}
