/**
 * The slack destination through the test kit, against a local HTTP receiver standing in for Slack: the Block Kit
 * digest (a burst is one message), the webhook URL from the credentials, pacing, 429 handling, and the package.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { DeliveryError, Observation } from 'zen-watcher/plugin-api';
import { loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import {
  packageIdentityTests,
  readmeConfigTableTest,
  readPluginPackage,
} from '../../../test/support/plugin-package.ts';
import { Receiver } from '../../../test/support/receiver.ts';
import plugin, { escapeMrkdwn, PLUGIN_NAME, waitMs } from '../index.ts';

const DIR = join(import.meta.dirname, '..');
let kit: TestPlugin;
let rx: Receiver;
before(async () => {
  kit = await loadTestPlugin(DIR);
  rx = await new Receiver().start();
});
after(async () => {
  await kit.close();
  await rx.close();
});

let n = 0;
const obs = (severity: Observation['spec']['severity'], title = `finding ${++n}`): Observation => ({
  name: `falco-${String(++n).padStart(16, '0')}`,
  namespace: 'shop',
  labels: {},
  annotations: {},
  spec: {
    source: 'falco',
    category: 'security',
    severity,
    eventType: 'runtime_alert',
    title,
    message: 'a shell was spawned in a container',
    resource: { kind: 'Pod', name: 'web-0', namespace: 'shop' },
    fingerprint: `fp-${n}`,
    detectedAt: '2026-01-01T00:00:00.000Z',
    ttlSecondsAfterCreation: 3600,
  },
});

interface Block {
  type: string;
  text?: { type: string; text: string };
  elements?: { text: string }[];
}

describe('digests', () => {
  test('a burst of 25 findings is one Block Kit message: counts, 10 listed, the rest summed up', async () => {
    rx.requests.length = 0;
    const batch = [
      ...Array.from({ length: 5 }, () => obs('critical')),
      ...Array.from({ length: 20 }, () => obs('low')),
    ];
    await kit.deliver(batch, { url: `${rx.url}/hook`, config: { minIntervalMs: 0, title: 'prod <eu>' } });
    assert.equal(rx.requests.length, 1);
    const msg = rx.requests[0]!.json as { text: string; blocks: Block[] };
    assert.equal(msg.text, 'prod <eu>: 25 findings');
    assert.equal(msg.blocks[0]!.type, 'header');
    assert.equal(msg.blocks[1]!.elements![0]!.text, '5 critical, 20 low');
    const sections = msg.blocks.filter((b) => b.type === 'section');
    assert.equal(sections.length, 10);
    assert.match(sections[0]!.text!.text, /^:red_circle: critical \*finding \d+\*\nfalco · Pod shop\/web-0\n/);
    assert.equal(msg.blocks.at(-1)!.elements![0]!.text, '…and 15 more: 15 low');
    assert.ok(msg.blocks.length <= 50, 'within Slack limit of 50 blocks');
  });

  test('resolved findings are marked; mrkdwn is escaped', async () => {
    rx.requests.length = 0;
    await kit.deliver([{ ...obs('high', 'a <b> & c'), phase: 'Resolved' }], {
      url: rx.url,
      config: { minIntervalMs: 0 },
    });
    const msg = rx.requests[0]!.json as { text: string; blocks: Block[] };
    assert.equal(msg.text, 'zen-watcher: 1 finding (1 resolved)');
    assert.match(msg.blocks[2]!.text!.text, /^:white_check_mark: resolved \*a &lt;b&gt; &amp; c\*/);
    assert.equal(escapeMrkdwn('<&>'), '&lt;&amp;&gt;');
  });

  test('the webhook URL from the credentials (a secret); missing → a retried failure', async () => {
    rx.requests.length = 0;
    await kit.deliver([obs('info')], { secrets: { url: `${rx.url}/services/T/B/x` }, config: { minIntervalMs: 0 } });
    assert.equal(rx.requests[0]!.path, '/services/T/B/x');
    await assert.rejects(kit.deliver([obs('info')], {}), (e: unknown) => {
      assert.equal((e as DeliveryError).retryable, true);
      assert.match((e as Error).message, /needs spec.url or the credentials key 'url'/);
      return true;
    });
  });

  test("a 429 is retryable with Slack's Retry-After; the URL never appears in the error", async () => {
    rx.failWith = 429;
    try {
      await assert.rejects(
        kit.deliver([obs('high')], { secrets: { url: `${rx.url}/secret-path` }, config: { minIntervalMs: 0 } }),
        (e: unknown) => {
          assert.equal((e as DeliveryError).retryable, true);
          assert.equal((e as DeliveryError).status, 429);
          assert.doesNotMatch((e as Error).message, /secret-path/);
          return true;
        },
      );
    } finally {
      rx.failWith = undefined;
    }
  });

  test('pacing: the next message to a webhook waits for minIntervalMs since the last', () => {
    assert.equal(waitMs(undefined, 5000, 1000), 0);
    assert.equal(waitMs(4500, 5000, 1000), 500);
    assert.equal(waitMs(3000, 5000, 1000), 0);
  });
});

describe('package', () => {
  const p = readPluginPackage(DIR);
  packageIdentityTests(DIR, p, {
    name: 'slack',
    version: '1.0.0',
    zenWatcher: { hostApi: '^1.2.0', entry: 'index.ts', destinations: ['slack'], configSchema: 'schema.json' },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('the README example is a valid Destination', () => {
    const r = kit.validateDestination(parseYaml(p.readmeBlock('destination')));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  });

  readmeConfigTableTest(p);
});
