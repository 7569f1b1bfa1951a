/**
 * The README's "Try it" steps, as a new user runs them: zen-watcher started exactly as `npm start` starts it (the
 * package.json script's node flags and entry point, default config, a fresh data directory), the README's own curl
 * (path and body read from README.md, so the test follows the README), the README's `zen-watcher observations
 * list`, then http://localhost:<port>/ui/ in headless Chromium shows the finding that was posted: in the overview's
 * counts, in the list, and on its detail page. Only the port differs (ephemeral: 8080 may be taken on a shared
 * machine) and the data directory (a new user has none yet).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserMissing, launchChromium } from '../support/browser.ts';
import { cleanup, type HostProcess, post, REPO, runCli, startHostProcess, tempDir } from '../support/host.ts';

/** The README's curl: `curl -s -XPOST localhost:8080<path> -H '<header>' -d '<body>'`. */
export function readmeCurl(readme: string): { path: string; headers: Record<string, string>; body: string } {
  const block = /Try it[^\n]*\n+```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README.md has a "Try it" sh block');
  const curl = /curl\b[^\n]*?-XPOST\s+localhost:8080(\/\S*)([\s\S]*?)-d\s+'([^']*)'/.exec(block);
  assert.ok(curl, `the "Try it" block POSTs to localhost:8080 with curl:\n${block}`);
  const headers: Record<string, string> = {};
  for (const [, h] of curl[2]!.matchAll(/-H\s+'([^']*)'/g)) {
    const i = h!.indexOf(':');
    headers[h!.slice(0, i).trim().toLowerCase()] = h!.slice(i + 1).trim();
  }
  assert.match(block, /zen-watcher observations list/, 'the block lists the Observations with the CLI');
  assert.match(readme, /open \*\*http:\/\/localhost:8080\/ui\/\*\*/, 'the README sends the user to /ui/');
  return { path: curl[1]!, headers, body: curl[3]! };
}

const skip = browserMissing();

describe('README: npm start, the curl, then /ui/ shows the finding', { skip }, () => {
  const dataDir = tempDir('zw-readme-');
  let zw: HostProcess;
  let browser: Browser | undefined;
  const step = readmeCurl(readFileSync(join(REPO, 'README.md'), 'utf8'));
  const posted = JSON.parse(step.body) as { severity: string; title: string; message: string };

  before(async () => {
    // The default listen address (npm start sets none); only the port and the data directory are chosen here.
    zw = await startHostProcess({ ZEN_DATA_DIR: dataDir, ZEN_LISTEN_HOST: '' }, 60_000, { asNpmStart: true });
  });
  after(async () => {
    await browser?.close();
    await zw?.stop();
    cleanup(dataDir);
  });

  test('the curl is accepted and the CLI lists the Observation', async () => {
    const r = await post(`${zw.url}${step.path}`, step.body, step.headers);
    assert.equal(r.status, 200, r.text);
    const cli = await runCli(['observations', 'list', '-o', 'json'], { ZEN_MODE: 'standalone', ZEN_DATA_DIR: dataDir });
    assert.equal(cli.code, 0, cli.stderr);
    const listed = JSON.parse(cli.stdout) as { spec: { title: string; severity: string } }[];
    assert.deepEqual(
      listed.map((o) => [o.spec.title, o.spec.severity]),
      [[posted.title, posted.severity]],
    );
  });

  test('http://localhost:<port>/ui/ shows it: overview counts, the list, the detail page', async () => {
    const port = new URL(zw.url).port;
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://localhost:${port}/ui/`);
    const count = async (id: string) =>
      Number(((await page.locator(`[data-testid="${id}"] .n`).textContent()) ?? '').replace(/\D/g, ''));
    await page.locator('[data-testid="count-total"]').waitFor();
    assert.equal(await count('count-total'), 1);
    assert.equal(await count('count-active'), 1);
    assert.equal(await count(`count-${posted.severity}`), 1);

    await page.goto(`http://localhost:${port}/ui/#/findings`);
    const rows = page.locator('table.findings tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().locator('.sev').textContent(), posted.severity);
    await rows.first().getByRole('link', { name: posted.title, exact: true }).click();
    await page.locator('[data-testid="occurrences"]').waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    assert.match(text, new RegExp(posted.message));
    assert.match(text, /Active/);
    assert.deepEqual(errors, []);
  });
});
