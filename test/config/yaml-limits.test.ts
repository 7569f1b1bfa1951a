/**
 * Hostile or broken files in ZEN_CONFIG_DIR (#14 item 5): a YAML alias bomb, a file with 100,000 keys, a file over
 * the size limit. Each is rejected with a clear error naming the file; the other files' Ingesters run; `validate`
 * reports them as lines, never a stack trace.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  MAX_CONFIG_ALIASES,
  MAX_CONFIG_FILE_BYTES,
  MAX_CONFIG_NODES,
  readDocuments,
} from '../../core/config/load-files.ts';
import {
  cleanup,
  post,
  runCli,
  startTestHost,
  type TestHost,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';

/** Billion laughs: 9 levels of 9 aliases each, 9^9 strings if expanded. */
function aliasBomb(): string {
  let t = `${webhookIngester('bomb', '/in/bomb')}  config:\n    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n`;
  const names = 'abcdefghij';
  for (let i = 1; i < 10; i++) {
    t += `    ${names[i]}: &${names[i]} [${Array(9)
      .fill(`*${names[i - 1]}`)
      .join(',')}]\n`;
  }
  return t;
}

/** n extra top-level keys. */
function manyKeys(n: number): string {
  let t = webhookIngester('wide', '/in/wide');
  for (let i = 0; i < n; i++) t += `k${i.toString(36)}: v\n`;
  return t;
}

describe('config files: limits', () => {
  let dir: string;
  let h: TestHost;
  before(async () => {
    dir = writeConfigDir({
      'a-bomb.yaml': aliasBomb(),
      'b-wide.yaml': manyKeys(MAX_CONFIG_NODES + 10),
      // 100,000 keys: past the size limit, refused before it is read or parsed.
      'c-huge.yaml': manyKeys(100_000),
      'd-dup.yaml': `${webhookIngester('dup', '/in/dup')}  source: again\n`,
      'e-good.yaml': webhookIngester('good', '/in/good'),
    });
    h = await startTestHost({ configDir: dir });
  });
  after(async () => {
    await h?.stop();
    cleanup(dir, h?.dataDir ?? '');
  });

  test('an alias bomb is rejected with a clear error; the other files run', async () => {
    const [doc] = readDocuments(join(dir, 'a-bomb.yaml'));
    assert.match(String(doc?.parseError), /alias/i);
    assert.match(String(doc?.parseError), new RegExp(`${MAX_CONFIG_ALIASES} alias`));
    assert.equal(doc?.doc, undefined);
    const r = await post(`${h.url}/in/good`, '{"severity":"low","title":"still serving"}');
    assert.equal(r.status, 200, r.text);
    assert.equal((await post(`${h.url}/in/bomb`, '{}')).status, 404);
  });

  test('too many keys, a file over the size limit (100,000 keys) and duplicate keys are rejected, each naming its cause', () => {
    assert.match(
      String(readDocuments(join(dir, 'b-wide.yaml'))[0]?.parseError),
      new RegExp(`more than ${MAX_CONFIG_NODES}`),
    );
    assert.match(
      String(readDocuments(join(dir, 'c-huge.yaml'))[0]?.parseError),
      new RegExp(`over the limit of ${MAX_CONFIG_FILE_BYTES} bytes`),
    );
    assert.match(String(readDocuments(join(dir, 'd-dup.yaml'))[0]?.parseError), /duplicate key 'source' at line \d+/);
  });

  test('the host lists each bad file as rejected, with its reason', () => {
    const rejected = new Map(
      h.host.ingesters.rejected().map((r) => [r.key, r.errors.map((e) => e.message).join('; ')]),
    );
    for (const f of ['a-bomb.yaml', 'b-wide.yaml', 'c-huge.yaml', 'd-dup.yaml']) {
      assert.ok(
        [...rejected.keys()].some((k) => k.endsWith(f)),
        `${f} not rejected: ${[...rejected.keys()]}`,
      );
    }
    assert.deepEqual([...h.host.ingesters.routes.keys()], ['/in/good']);
  });

  test('validate: one line per bad file, exit 1, no stack trace', async () => {
    const files = ['a-bomb.yaml', 'b-wide.yaml', 'c-huge.yaml', 'e-good.yaml'].map((f) => join(dir, f));
    const r = await runCli(['validate', ...files]);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, 'a stack trace was printed');
    assert.match(r.stdout, /a-bomb\.yaml: \(document\): cannot load: .*alias/i);
    assert.match(r.stdout, /b-wide\.yaml: \(document\): document has more than/);
    assert.match(r.stdout, /c-huge\.yaml: \(document\): file is \d+ bytes, over the limit/);
  });

  test('a few anchors and aliases, as people use them, still load', () => {
    const d = writeConfigDir({
      'anchors.yaml': `${webhookIngester('anchored', '/in/anchored')}  config:\n    base: &base { x: 1 }\n    copy: *base\n`,
    });
    try {
      const [doc] = readDocuments(join(d, 'anchors.yaml'));
      assert.equal(doc?.parseError, undefined);
      assert.deepEqual((doc?.doc as { spec: { config: unknown } } | undefined)?.spec.config, {
        base: { x: 1 },
        copy: { x: 1 },
      });
    } finally {
      cleanup(d);
    }
  });
});
