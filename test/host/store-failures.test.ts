/**
 * Issue #14 items 1 and 6, with real processes and a real filesystem: a standalone store on a full tmpfs never
 * answers 2xx for an event it did not store (503 + Retry-After, counted, logged once at error level, /readyz not
 * ready, recovery by itself when space returns); a corrupt store is refused at start with a clear message, and
 * `observations list` says so without a stack trace; the CLI prints titles with their control characters escaped.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import {
  cleanup,
  type HostProcess,
  post,
  runCli,
  startHostProcess,
  startTestHost,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.ts';
import { waitFor } from '../support/wait.ts';

const { fs: tmpfs, skip: noTmpfs } = mountTmpfs(16 << 20);
const { fs: tmpfs2 } = noTmpfs ? { fs: undefined } : mountTmpfs(48 << 20);
after(() => {
  tmpfs?.unmount();
  tmpfs2?.unmount();
});

async function readyz(url: string): Promise<{ status: number; reason: string }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { reason?: string };
  return { status: res.status, reason: body.reason ?? '' };
}

async function metric(url: string, re: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

interface Answer {
  i: number;
  phase: string;
  status: number;
  retryAfter: string | null;
  error?: string;
  names: string[];
  readyAfter: number;
  readyReason: string;
}

describe('a full-disk run: N webhooks while the data directory fills and frees again', { skip: noTmpfs }, () => {
  let p: HostProcess;
  let fs: Tmpfs;
  const dataDir = () => join(fs.dir, 'data');
  before(async () => {
    fs = tmpfs!;
    p = await startHostProcess({ ZEN_DATA_DIR: dataDir() });
  });
  after(async () => p?.stop());

  test('every 2xx is stored, every other answer is 503 + Retry-After, /readyz follows the store', async () => {
    // Phases: 150 events with space; fill the disk and send until 100 were refused (with WAL, writes that fit in
    // the log's space still succeed, so how many that takes depends on the log); free it; 100 events; again.
    const plan: { fill: boolean; until: (refusedInPhase: number, sentInPhase: number) => boolean }[] = [
      { fill: false, until: (_r, n) => n >= 150 },
      { fill: true, until: (r, n) => r >= 100 || n >= 6000 },
      { fill: false, until: (_r, n) => n >= 100 },
      { fill: true, until: (r, n) => r >= 100 || n >= 6000 },
      { fill: false, until: (_r, n) => n >= 100 },
    ];
    const answers: Answer[] = [];
    const story: (string | Answer)[] = [];
    const fullPhases: { from: number; to: number }[] = [];
    let phase = 'space';
    let i = 0;
    for (const [k, step] of plan.entries()) {
      if (step.fill) {
        const taken = fs.fill();
        phase = 'full';
        story.push(`disk filled (a filler took ${taken} bytes; ${fs.freeBytes()} bytes free)`);
      } else if (k > 0) {
        fs.free();
        phase = 'space';
        story.push(`disk freed (${fs.freeBytes()} bytes free)`);
        // Recovery by itself: no webhook is sent until /readyz says ready again (the store's probe).
        const before = await readyz(p.url);
        const r = await waitFor('/readyz ready again after the space returned', async () => {
          const s = await readyz(p.url);
          return s.status === 200 ? s : undefined;
        });
        story.push(`/readyz ${before.status} → ${r.status} with no webhook sent (the store's probe)`);
      }
      const from = i;
      let refusedHere = 0;
      for (let n = 0; !step.until(refusedHere, n); n++, i++) {
        const res = await post(
          `${p.url}/ingest/webhook`,
          JSON.stringify({ severity: 'high', title: `full-disk event ${i}`, message: 'x'.repeat(600), details: { i } }),
        );
        const ready = await readyz(p.url);
        const a: Answer = {
          i,
          phase,
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          ...(typeof res.json?.error === 'string' ? { error: res.json.error } : {}),
          names: (res.json?.names as string[] | undefined) ?? [],
          readyAfter: ready.status,
          readyReason: ready.reason,
        };
        answers.push(a);
        story.push(a);
        if (a.status !== 200) refusedHere++;
      }
      if (step.fill) fullPhases.push({ from, to: i - 1 });
    }
    const N = answers.length;

    // The run, with answers compressed into runs of the same (disk, answer, readiness right after).
    const lines: string[] = [];
    let run: { from: number; to: number; key: string } | undefined;
    const flush = () => {
      if (run) lines.push(`  events ${run.from}-${run.to} (${run.to - run.from + 1}): ${run.key}`);
      run = undefined;
    };
    for (const item of story) {
      if (typeof item === 'string') {
        flush();
        lines.push(item);
        continue;
      }
      const a = item;
      const key = `disk ${a.phase}: answered ${a.status}${a.retryAfter ? ` Retry-After: ${a.retryAfter}` : ''}; /readyz then ${a.readyAfter}${a.readyAfter === 200 ? '' : ` (${a.readyReason.replace(/ since .*/, '')})`}`;
      if (run?.key === key) run.to = a.i;
      else {
        flush();
        run = { from: a.i, to: a.i, key };
      }
    }
    flush();
    console.log(`full-disk run, ${N} webhooks, one at a time:\n${lines.join('\n')}`);

    const ok = answers.filter((a) => a.status >= 200 && a.status < 300);
    const refused = answers.filter((a) => !(a.status >= 200 && a.status < 300));
    // Every non-2xx answer is a 503 with Retry-After, and /readyz right after it said not ready (store_full).
    for (const a of refused) {
      assert.equal(a.status, 503, `event ${a.i}: ${a.status}`);
      assert.ok(Number(a.retryAfter) > 0, `event ${a.i}: Retry-After ${a.retryAfter}`);
      assert.equal(a.error, 'ZW_ERR_NOT_READY');
      assert.equal(a.readyAfter, 503, `event ${a.i} refused while /readyz said ready`);
      assert.match(a.readyReason, /store_full/);
    }
    // Every 2xx is a 200 (written, not queued), and /readyz right after it said ready.
    for (const a of ok) {
      assert.equal(a.status, 200, `event ${a.i}`);
      assert.equal(a.readyAfter, 200, `event ${a.i} stored while /readyz said not ready`);
      assert.equal(a.names.length, 1);
    }
    // The disk really filled in both full phases, and every event with space was stored.
    for (const { from, to } of fullPhases) {
      assert.ok(
        refused.some((a) => a.i >= from && a.i <= to),
        `no 503 while the disk was full (events ${from}-${to})`,
      );
    }
    assert.ok(
      answers.filter((a) => a.phase === 'space').every((a) => a.status === 200),
      'refused with space',
    );

    // Counted, and logged once per outage at error level with SQLite's cause.
    assert.equal(
      await metric(p.url, /zen_watcher_observations_refused_total\{source="webhook",reason="store_full"\} (\d+)/),
      refused.length,
    );
    assert.equal(await metric(p.url, /zen_watcher_store_writable (\d+)/), 1);
    assert.ok(
      (await metric(p.url, /zen_watcher_store_write_failures_total\{reason="store_full",probe="false"\} (\d+)/)) >=
        refused.length,
    );
    const logs = p
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; msg: string; cause?: string });
    const errors = logs.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, `logged once at error level:\n${errors.map((e) => e.msg).join('\n')}`);
    assert.equal(errors[0]!.cause, 'database or disk is full');
    assert.match(errors[0]!.msg, /answered 503 with Retry-After/);
    assert.equal(logs.filter((l) => l.level === 'info' && /can write again/.test(l.msg)).length, 1);

    // Every 2xx-answered event is in the store (read back by the CLI after a graceful stop).
    assert.equal(await p.stop(), 0);
    const list = await runCli(['observations', 'list', '-o', 'json', '--limit', '100000'], {
      ZEN_DATA_DIR: dataDir(),
    });
    assert.equal(list.code, 0, list.stderr);
    const stored = new Set((JSON.parse(list.stdout) as { name: string }[]).map((o) => o.name));
    const missing = ok.filter((a) => !stored.has(a.names[0]!));
    assert.deepEqual(
      missing.map((a) => a.i),
      [],
      '2xx-answered events missing from the store',
    );
    assert.equal(stored.size, ok.length, 'nothing stored beyond the 2xx-answered events');
    console.log(`stored ${stored.size} = 2xx answers ${ok.length}; 503 answers ${refused.length}`);
  });
});

describe('a full-disk run with concurrent senders while a filler takes the space gradually', { skip: noTmpfs }, () => {
  // The run above answers one webhook at a time and fills the disk between two of them. Here 8 senders post (about
  // 100 a second each) while the disk fills a megabyte at a time (so writes race the filler: group commits, WAL
  // growth, the checkpoint worker) and frees again, twice. The invariants are the same: every 2xx-answered event is in the
  // store (a 202 too, if any), every other answer is 503 with Retry-After, and /readyz (polled throughout) is 503
  // with the store's cause while the disk is full and 200 again once it is freed.
  let p: HostProcess;
  let fs: Tmpfs;
  const dataDir = () => join(fs.dir, 'data');
  before(async () => {
    fs = tmpfs2!;
    // No per-client limit: every answer must come from the store, not from a 429.
    p = await startHostProcess({ ZEN_DATA_DIR: dataDir(), ZEN_CLIENT_RATE_LIMIT_RPS: '0' });
  });
  after(async () => p?.stop());

  test('every 2xx is stored, every other answer is 503 + Retry-After, /readyz follows the store', async () => {
    type Phase = 'space' | 'filling' | 'full';
    let phase: Phase = 'space';
    let cycle = 0;
    const answers: {
      key: string;
      phase: Phase;
      cycle: number;
      status: number;
      retryAfter: string | null;
      error?: string;
      names: string[];
    }[] = [];
    const ready: { phase: Phase; cycle: number; status: number; reason: string }[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let sending = true;
    const sender = async (k: number) => {
      for (let n = 0; sending; n++) {
        const key = `sender ${k} event ${n}`;
        const at = { phase, cycle };
        const res = await post(
          `${p.url}/ingest/webhook`,
          JSON.stringify({ severity: 'high', title: key, message: 'x'.repeat(600), details: { k, n } }),
        );
        answers.push({
          key,
          ...(at.phase === phase && at.cycle === cycle ? at : { phase: 'filling' as Phase, cycle: at.cycle }),
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          ...(typeof res.json?.error === 'string' ? { error: res.json.error } : {}),
          names: (res.json?.names as string[] | undefined) ?? [],
        });
        // Paced (about 100 a second per sender), so that the store's own data does not fill the disk between the
        // filler's turns: only the filler decides when the disk is full.
        await sleep(10);
      }
    };
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const at = { phase, cycle };
        const r = await readyz(p.url);
        ready.push({ ...at, status: r.status, reason: r.reason });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const senders = Array.from({ length: 8 }, (_, k) => sender(k));
    const refusedSince = (from: number) => answers.slice(from).filter((a) => a.status === 503).length;
    const lines: string[] = [];
    try {
      for (cycle = 1; cycle <= 2; cycle++) {
        phase = 'space';
        await sleep(300);
        // Fill a 256 KiB chunk at a time, letting the senders run between chunks, until the filesystem refuses.
        phase = 'filling';
        const taken = await fs.fillGradually(1 << 20, () => sleep(10));
        phase = 'full';
        const from = answers.length;
        await waitFor('100 refusals while the disk is full', () => refusedSince(from) >= 100, 60_000);
        lines.push(`cycle ${cycle}: a filler took ${taken} bytes while the senders ran; ${fs.freeBytes()} bytes free`);
        fs.free();
        phase = 'space';
        await waitFor('/readyz ready again after the space returned', async () => (await readyz(p.url)).status === 200);
        lines.push(`cycle ${cycle}: disk freed, /readyz 200 again (${fs.freeBytes()} bytes free)`);
        await sleep(300);
      }
    } finally {
      sending = false;
      await Promise.all(senders);
      polling = false;
      await poller;
    }

    const ok = answers.filter((a) => a.status >= 200 && a.status < 300);
    const refused = answers.filter((a) => !(a.status >= 200 && a.status < 300));
    const count = (xs: { status: number }[]) => {
      const by = new Map<number, number>();
      for (const x of xs) by.set(x.status, (by.get(x.status) ?? 0) + 1);
      return [...by].map(([k, v]) => `${k}×${v}`).join(' ');
    };
    for (const c of [1, 2])
      for (const ph of ['space', 'filling', 'full'] as const)
        lines.push(
          `cycle ${c}, disk ${ph}: answers ${count(answers.filter((a) => a.cycle === c && a.phase === ph)) || '-'}; /readyz ${count(ready.filter((r) => r.cycle === c && r.phase === ph)) || '-'}`,
        );
    console.log(`concurrent full-disk run, ${answers.length} webhooks from 8 senders:\n  ${lines.join('\n  ')}`);

    for (const a of refused) {
      assert.equal(a.status, 503, `${a.key}: ${a.status}`);
      assert.ok(Number(a.retryAfter) > 0, `${a.key}: Retry-After ${a.retryAfter}`);
      assert.equal(a.error, 'ZW_ERR_NOT_READY', a.key);
      assert.notEqual(a.phase, 'space', `${a.key} refused while the disk had space`);
    }
    for (const a of ok) assert.equal(a.names.length, a.status === 200 ? 1 : 0, a.key);
    for (const c of [1, 2]) {
      assert.ok(
        refused.some((a) => a.cycle === c),
        `cycle ${c}: no 503 while the disk was full`,
      );
      assert.ok(
        ready.some((r) => r.cycle === c && r.phase === 'full' && r.status === 503 && /store_(full|io)/.test(r.reason)),
        `cycle ${c}: /readyz never said not ready while the disk was full`,
      );
    }
    assert.equal((await readyz(p.url)).status, 200, 'ready at the end');

    // Every 2xx-answered event is in the store. A 202 carries no name: it is found by its title.
    assert.equal(await p.stop(), 0);
    const list = await runCli(['observations', 'list', '-o', 'json', '--limit', '1000000'], {
      ZEN_DATA_DIR: dataDir(),
    });
    assert.equal(list.code, 0, list.stderr);
    const stored = JSON.parse(list.stdout) as { name: string; spec: { title: string } }[];
    const titles = new Set(stored.map((o) => o.spec.title));
    const missing = ok.filter((a) => !titles.has(a.key));
    assert.deepEqual(
      missing.map((a) => `${a.key} (${a.status})`),
      [],
      '2xx-answered events missing from the store',
    );
    const refusedStored = refused.filter((a) => titles.has(a.key));
    assert.deepEqual(
      refusedStored.map((a) => a.key),
      [],
      'an event answered 503 was stored after all (its retry would be a duplicate, but nothing retried here)',
    );
    assert.equal(stored.length, ok.length, 'nothing stored beyond the 2xx-answered events');
    console.log(`stored ${stored.length} = 2xx answers ${ok.length}; 503 answers ${refused.length}`);
  });
});

/** Overwrites `pages` 4 KiB pages from the middle of the file with a pattern, like a torn or bit-rotted write. */
function corruptMiddle(file: string, pages: number): void {
  const size = statSync(file).size;
  const start = Math.floor(size / 4096 / 2 - pages / 2) * 4096;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(pages * 4096, 0xa5), 0, pages * 4096, start);
  } finally {
    closeSync(fd);
  }
}

describe('a corrupt store', () => {
  test('is refused at start with a clear reason, and observations list says so without a stack trace', async () => {
    const dataDir = tempDir('zw-corrupt-');
    try {
      const store = new SqliteStore(dataDir);
      for (let i = 0; i < 400; i++) {
        store.writeSync({
          name: `webhook-${String(i).padStart(16, '0')}`,
          namespace: 'default',
          labels: {},
          annotations: {},
          spec: {
            source: 'webhook',
            category: 'security',
            severity: 'high',
            eventType: 'e',
            title: `row ${i}`,
            message: 'm'.repeat(500),
            fingerprint: 'f'.repeat(64),
            detectedAt: new Date().toISOString(),
            ttlSecondsAfterCreation: 3600,
          },
        });
      }
      await store.close();
      corruptMiddle(join(dataDir, 'observations.db'), 8);

      const started = startHostProcess({ ZEN_DATA_DIR: dataDir });
      started.then(
        (h) => h.stop('SIGKILL'),
        () => {},
      ); // a host that started on it is the failure, not a leftover
      await assert.rejects(started, (err: Error) => {
        assert.match(err.message, /host exited with 1 before listening/);
        assert.match(err.message, /is corrupt \(PRAGMA quick_check: /);
        assert.match(err.message, /move the file \(and its -wal and -shm files\) aside or restore a backup/);
        assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace');
        return true;
      });

      const list = await runCli(['observations', 'list'], { ZEN_DATA_DIR: dataDir });
      assert.equal(list.code, 1, list.stdout);
      assert.match(list.stderr, /zen-watcher observations list: cannot read the store .*observations\.db: /);
      assert.match(list.stderr, /database disk image is malformed/);
      assert.match(list.stderr, /move observations\.db \(and its -wal and -shm files\) aside/);
      assert.doesNotMatch(list.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      cleanup(dataDir);
    }
  });
});

/** Raw characters that must never reach a terminal: C0 except LF, DEL, C1, bidi overrides and isolates. */
const UNSAFE_CLASS = '[\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]';

describe('the CLI and hostile titles', () => {
  test('control characters and escape codes from a webhook are printed escaped, in the table and in JSON', async () => {
    const configDir = writeConfigDir({ 'w.yaml': webhookIngester('webhook', '/ingest/webhook') });
    const h = await startTestHost({ configDir });
    const title =
      'evil\u001b[2J\u001b]0;owned\u0007\r\ndefault   webhook-fake   webhook   critical\u009b31m\u202etxt.exe';
    try {
      const r = await post(`${h.url}/ingest/webhook`, JSON.stringify({ severity: 'low', title }));
      assert.equal(r.status, 200, r.text);
    } finally {
      await h.stop();
    }
    try {
      const env = { ZEN_DATA_DIR: h.dataDir };
      const tableOut = await runCli(['observations', 'list'], env);
      assert.equal(tableOut.code, 0, tableOut.stderr);
      const unsafe = new RegExp(UNSAFE_CLASS);
      assert.doesNotMatch(tableOut.stdout, unsafe, 'a raw control character reached the terminal');
      assert.equal(tableOut.stdout.trimEnd().split('\n').length, 2, 'the header and one row: no fake rows');
      assert.match(tableOut.stdout, /evil\\x1b\[2J\\x1b\]0;owned\\x07\\r\\ndefault {3}webhook-fake/);
      const jsonOut = await runCli(['observations', 'list', '-o', 'json'], env);
      assert.doesNotMatch(jsonOut.stdout, unsafe);
      const [obs] = JSON.parse(jsonOut.stdout) as { spec: { title: string } }[];
      assert.equal(obs?.spec.title, title, 'the JSON still carries the exact title');
    } finally {
      cleanup(h.dataDir, configDir);
    }
  });
});
