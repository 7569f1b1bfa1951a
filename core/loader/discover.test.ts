import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { HOST_API_VERSION } from '../api/index.ts';
import { createAjv } from '../config/validate.ts';
import { discoverPlugins, pluginDirectories } from './index.ts';

const ECHO = resolve(import.meta.dirname, '../../test/fixtures/plugins/echo');
const tmp = mkdtempSync(join(tmpdir(), 'zw-discover-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('search path entries that cannot be searched', () => {
  const missing = join(tmp, 'no-such-dir');
  const file = join(tmp, 'a-file');
  const empty = join(tmp, 'empty');
  writeFileSync(file, 'x');
  mkdirSync(empty);

  test('are failed records naming the entry and why, not silently skipped; the others still load', () => {
    const records = discoverPlugins([missing, ECHO, file, empty], {
      ajv: createAjv(),
      hostApiVersion: HOST_API_VERSION,
    });
    const failed = records.filter((r) => r.status === 'failed');
    assert.deepEqual(
      failed.map((r) => [r.dir, r.code]),
      [
        [missing, 'ZW_ERR_PLUGIN_PATH'],
        [file, 'ZW_ERR_PLUGIN_PATH'],
      ],
    );
    assert.match(failed[0]!.reason, /^does not exist \(a ZEN_PLUGIN_DIRS or ZEN_BUILTIN_PLUGIN_DIR entry/);
    assert.match(failed[1]!.reason, /^is not a directory \(a ZEN_PLUGIN_DIRS or ZEN_BUILTIN_PLUGIN_DIR entry/);
    assert.deepEqual(
      records.filter((r) => r.status === 'loaded').map((r) => r.dir),
      [ECHO],
    );
    // An empty directory is a valid (if useless) entry: nothing to report.
    assert.equal(
      records.some((r) => r.dir === empty),
      false,
    );
  });
  test('pluginDirectories lists only plugin directories', () => {
    assert.deepEqual(pluginDirectories([missing, ECHO, file]), [ECHO]);
  });
});
