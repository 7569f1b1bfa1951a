/**
 * Random and mutated bodies against a real host process: it stays up, answers every request with a well-formed
 * status and body, and its memory stays bounded. The seed is printed; rerun a failure with ZEN_FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { cleanup, post, rssOf, startHostProcess, tempDir } from '../support/host.ts';

const ALLOWED = new Set([200, 202, 400, 404, 405, 413, 415, 422, 429, 503]);
const VALID = '{"severity":"high","title":"t","message":"m","resource":{"kind":"Pod","name":"p","namespace":"ns"}}';

const mutate = (base: string) =>
  fc
    .array(
      fc.tuple(fc.nat(base.length), fc.constantFrom('flip', 'cut', 'insert', 'dup'), fc.string({ maxLength: 8 })),
      { minLength: 1, maxLength: 6 },
    )
    .map((ops) => {
      let s = base;
      for (const [at, op, text] of ops) {
        const i = at % Math.max(1, s.length);
        if (op === 'flip') s = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 0x20 || 0x41) + s.slice(i + 1);
        else if (op === 'cut') s = s.slice(0, i);
        else if (op === 'insert') s = s.slice(0, i) + text + s.slice(i);
        else s = s.slice(0, i) + s.slice(i, i + 10).repeat(5) + s.slice(i);
      }
      return s;
    });

const body = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString('latin1')),
  mutate(VALID),
  fc.array(mutate(VALID), { maxLength: 5 }).map((lines) => lines.join('\n')),
  fc.nat(5000).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc
    .record({ severity: fc.string(), title: fc.oneof(fc.string(), fc.integer()), message: fc.anything() })
    .map((o) => JSON.stringify(o)),
);
const contentType = fc.constantFrom(
  'application/json',
  'application/x-ndjson',
  'text/plain',
  'application/xml',
  'application/json; charset=utf-8',
  '',
);
const path = fc.constantFrom('/ingest/webhook', '/ingest/webhook', '/ingest/webhook', '/ingest/nope', '/healthz');

test('1,000+ random and mutated requests: no crash, well-formed answers, bounded memory', async (t) => {
  const seed = Number(process.env.ZEN_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`fuzz seed ${seed} (rerun with ZEN_FUZZ_SEED=${seed})`);
  const dataDir = tempDir('zw-fuzz-');
  const p = await startHostProcess({ ZEN_DATA_DIR: dataDir });
  try {
    const rssStart = rssOf(p.pid);
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(body, contentType, path, async (b, ct, pth) => {
        requests++;
        const r = await post(`${p.url}${pth}`, b, ct ? { 'content-type': ct } : {});
        assert.ok(ALLOWED.has(r.status), `unexpected status ${r.status} for ${JSON.stringify(b).slice(0, 200)}`);
        if (pth === '/healthz') return;
        assert.ok(r.json, `body is JSON: ${r.text.slice(0, 200)}`);
        if (r.status >= 400) {
          assert.equal(typeof r.json.error, 'string');
          assert.equal(typeof r.json.reason, 'string');
          assert.ok(!String(r.json.reason).includes('    at '), 'no stack traces in errors');
        }
      }),
      { numRuns: 1200, seed },
    );
    assert.ok(requests >= 1000);
    assert.equal((await fetch(`${p.url}/healthz`)).status, 200, 'still serving');
    const rssEnd = rssOf(p.pid);
    t.diagnostic(
      `RSS ${Math.round(rssStart / 2 ** 20)} MiB → ${Math.round(rssEnd / 2 ** 20)} MiB over ${requests} requests`,
    );
    assert.ok(rssEnd < 400 * 2 ** 20, `RSS ${rssEnd} bytes stays under 400 MiB`);
    assert.equal(p.child.exitCode, null, 'process still running');
  } finally {
    await p.stop();
    cleanup(dataDir);
  }
});
