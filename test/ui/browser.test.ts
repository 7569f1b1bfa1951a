/**
 * The UI in a real browser (headless Chromium), against a real standalone zen-watcher whose store holds the demo
 * findings: the overview's counts equal the API's, filters change the list, the per-resource page merges three
 * sources' findings about one Deployment, the detail page, keyboard navigation, and the live stream adding a
 * finding posted to a webhook without a reload. ZEN_UI_SCREENSHOTS=1 writes the screenshots in docs/ui/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import { browserMissing, launchChromium } from '../support/browser.ts';
import { cleanup, post, REPO, startTestHost, type TestHost, tempDir } from '../support/host.ts';
import { demoObservations } from '../support/observations.ts';
import { waitFor } from '../support/wait.ts';

const skip = browserMissing();
const SHOTS = process.env.ZEN_UI_SCREENSHOTS === '1' ? join(REPO, 'docs/ui') : undefined;

describe('UI in headless Chromium', { skip }, () => {
  let th: TestHost;
  let browser: Browser;
  let page: Page;
  const dataDir = tempDir('zw-ui-');

  before(async () => {
    const store = new SqliteStore(dataDir);
    for (const o of demoObservations()) store.writeSync(o);
    await store.close();
    th = await startTestHost({ configDir: join(REPO, 'config/standalone'), dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => assert.fail(`page error: ${err.message}`));
  });
  after(async () => {
    await browser?.close();
    await th?.stop();
    cleanup(dataDir);
  });

  const api = async <T>(path: string): Promise<T> => (await (await fetch(`${th.url}/api/v1/${path}`)).json()) as T;
  const shot = async (name: string) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  };

  test('overview: the counts are the API summary', async () => {
    const s = await api<{ total: number; active: number; bySeverity: Record<string, number> }>('summary');
    assert.ok(s.total > 50, `seeded ${s.total}`);
    await page.goto(`${th.url}/ui/`);
    const count = async (id: string) =>
      Number(((await page.locator(`[data-testid="${id}"] .n`).textContent()) ?? '').replace(/\D/g, ''));
    await page.locator('[data-testid="count-total"]').waitFor();
    assert.equal(await count('count-total'), s.total);
    assert.equal(await count('count-active'), s.active);
    for (const sev of ['critical', 'high', 'medium', 'low', 'info'])
      assert.equal(await count(`count-${sev}`), s.bySeverity[sev] ?? 0, sev);
    assert.ok(await page.locator('canvas[role="img"]').isVisible(), 'trend chart');
    await shot('overview');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.reload();
    await page.locator('[data-testid="count-total"]').waitFor();
    const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    assert.equal(bg, 'rgb(17, 22, 29)', 'dark theme from prefers-color-scheme');
    await shot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('findings: filters and search change the list, as the API does', async () => {
    await page.goto(`${th.url}/ui/#/findings`);
    const total = page.locator('[data-testid="total"]');
    const all = await api<{ total: number }>('observations?limit=1');
    await waitFor(
      'unfiltered total',
      async () => Number((await total.textContent())?.replace(/\D/g, '')) === all.total,
    );
    assert.equal(await page.locator('table.findings tbody tr').count(), 50, 'first page of 50');
    await shot('findings');

    await page.selectOption('select[name="severity"]', 'critical');
    const crit = await api<{ total: number }>('observations?severity=critical&limit=1');
    await waitFor('critical total', async () => Number((await total.textContent())?.replace(/\D/g, '')) === crit.total);
    const sevs = await page.locator('table.findings tbody tr .sev').allTextContents();
    assert.ok(sevs.length > 0 && sevs.every((s) => s === 'critical'), sevs.join(','));

    await page.fill('input[name="q"]', 'payments');
    await page.keyboard.press('Enter');
    const both = await api<{ total: number }>('observations?severity=critical&q=payments&limit=1');
    await waitFor('search total', async () => Number((await total.textContent())?.replace(/\D/g, '')) === both.total);
    assert.match(page.url(), /q=payments/);
    assert.match(page.url(), /severity=critical/);

    // The next page follows the cursor.
    await page.goto(`${th.url}/ui/#/findings`);
    await page.locator('table.findings tbody tr').first().waitFor();
    const firstPage = await page.locator('table.findings tbody tr').first().getAttribute('data-name');
    await page.getByRole('link', { name: 'Next →' }).click();
    await waitFor(
      'second page',
      async () => (await page.locator('table.findings tbody tr').first().getAttribute('data-name')) !== firstPage,
    );
  });

  test('per-resource page: the Deployment with its ReplicaSet and Pod findings, from three sources', async () => {
    await page.goto(`${th.url}/ui/#/resource/shop/Deployment/payments`);
    for (const src of ['trivy', 'falco', 'kyverno']) await page.locator(`[data-testid="source-${src}"]`).waitFor();
    assert.equal(await page.locator('table.findings tbody tr').count(), 3);
    const text = await page.locator('main').textContent();
    assert.match(text ?? '', /ReplicaSet\/payments-7d9f8b6c5/);
    assert.match(text ?? '', /Pod\/payments-7d9f8b6c5-x2x9q/);
    await shot('resource');

    // The Pod's page links back up its owners.
    await page.goto(`${th.url}/ui/#/resource/shop/Pod/payments-7d9f8b6c5-x2x9q`);
    await page.locator('.crumbs').getByRole('link', { name: 'Deployment/payments' }).waitFor();
  });

  test('detail: a finding with occurrences, status and details', async () => {
    await page.goto(`${th.url}/ui/#/resource/shop/Deployment/payments`);
    await page.getByRole('link', { name: /CVE-2024-45337/ }).click();
    await page.locator('[data-testid="occurrences"]').waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    assert.match(text, /1 time/);
    assert.match(text, /Active/);
    assert.match(text, /"fixedVersion": "0.31.0"/);
    assert.match(text, /owned by/);
    await shot('detail');
  });

  test('keyboard: skip link, navigation and filters are reachable and usable without a mouse', async () => {
    await page.goto(`${th.url}/ui/`);
    await page.locator('[data-testid="count-total"]').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Findings');
    await page.keyboard.press('Enter');
    await page.waitForFunction("location.hash.startsWith('#/findings')");
    // The UI moves focus to the new content after a navigation (an effect after render): wait for that move, so
    // the focus below is not taken back by it, and the keystrokes land in the search field.
    await page.waitForFunction("document.activeElement?.tagName === 'MAIN'");
    await page.locator('[data-testid="total"]').waitFor();
    await page.locator('input[name="q"]').focus();
    await page.keyboard.type('checkout');
    assert.equal(await page.locator('input[name="q"]').inputValue(), 'checkout');
    await page.keyboard.press('Enter');
    await page.waitForFunction('/q=checkout/.test(location.hash)');
  });

  test('live stream: a finding posted to the webhook appears in the open list without a reload', async () => {
    await page.goto(`${th.url}/ui/#/findings`);
    await page.locator('.live.on').waitFor();
    await page.evaluate('window.marker = 42');
    const title = `live finding ${Date.now()}`;
    const r = await post(`${th.url}/ingest/webhook`, JSON.stringify({ severity: 'critical', title, message: 'm' }));
    assert.equal(r.status, 200);
    await page.getByRole('link', { name: title }).waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate('window.marker'), 42, 'no reload');
    const first = page.locator('table.findings tbody tr').first();
    assert.match((await first.textContent()) ?? '', new RegExp(title));
  });
});
