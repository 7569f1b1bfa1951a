/**
 * Acceptance: an author's mistakes are refused with a reason that says what to fix, before any plugin code runs:
 * an incompatible `hostApi`, an invalid manifest, an invalid config schema. Each plugin is scaffolded, then broken
 * the way an author would break it; `plugins list -o json` (what an operator sees) and `plugin test` (what the
 * author sees, exit 1) report the same reason, and a good plugin next to them still loads.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HOST_API_VERSION } from '../../core/api/index.ts';
import { scaffoldPlugin } from '../../core/cli/scaffold.ts';
import { cleanup, runCli, tempDir } from '../support/host.ts';
import { editJson, show } from './author.ts';

const tmp = tempDir('zw-author-admission-');
after(() => cleanup(tmp));

interface Listed {
  name: string;
  version: string;
  status: string;
  reason: string;
}

type Edit = (dir: string) => void;
const manifest = (dir: string, edit: (m: Record<string, unknown>) => void) =>
  editJson(join(dir, 'package.json'), (pkg) => edit(pkg.zenWatcher as Record<string, unknown>));
const schema = (dir: string, edit: (s: Record<string, unknown>) => void) => editJson(join(dir, 'schema.json'), edit);
const property = (s: Record<string, unknown>, name: string) =>
  (s.properties as Record<string, Record<string, unknown>>)[name]!;

const CASES: { name: string; what: string; edit: Edit; status: string; reason: RegExp[] }[] = [
  {
    name: 'needs-next-api',
    what: 'an incompatible hostApi',
    edit: (d) => manifest(d, (m) => (m.hostApi = '^2.0.0')),
    status: 'incompatible',
    reason: [
      new RegExp(`needs host plugin API \\^2\\.0\\.0, this host provides ${HOST_API_VERSION.replaceAll('.', '\\.')}`),
      /zenWatcher\.hostApi must be a range that includes .*e\.g\. "\^1\.0\.0"/,
    ],
  },
  {
    name: 'api-not-a-range',
    what: 'a hostApi that is not a semver range',
    edit: (d) => manifest(d, (m) => (m.hostApi = 'latest')),
    status: 'failed',
    reason: [/zenWatcher\.hostApi 'latest' is not a semver range \(e\.g\. "\^1\.0\.0"\)/],
  },
  {
    name: 'bad-manifest',
    what: 'an invalid manifest',
    edit: (d) =>
      manifest(d, (m) => {
        m.entry = 'index.tsx';
        m.sources = ['My Scanner'];
        m.configschema = m.configSchema;
        delete m.configSchema;
      }),
    status: 'failed',
    reason: [
      /^invalid manifest in package\.json: /,
      /zenWatcher\.entry: must be a relative path inside the plugin directory to a \.ts, \.mts, \.js or \.mjs file/,
      /zenWatcher\.sources\[0\]: must be a source handler name: lower-case letters, digits and "-".*e\.g\. "my-scanner"/,
      /zenWatcher\.configschema: is not a known field; did you mean "configSchema"\?/,
    ],
  },
  {
    name: 'bad-schema-type',
    what: 'a config schema with an unknown type',
    edit: (d) => schema(d, (s) => (property(s, 'maxFindings').type = 'integr')),
    status: 'failed',
    reason: [
      /^configSchema schema\.json is not a valid JSON Schema: /,
      /properties\.maxFindings\.type must be equal to one of the allowed values/,
    ],
  },
  {
    name: 'bad-schema-keyword',
    what: 'a config schema with a misspelt keyword (ajv strict mode)',
    edit: (d) =>
      schema(d, (s) => {
        const p = property(s, 'maxFindings');
        p.defualt = p.default;
        delete p.default;
      }),
    status: 'failed',
    reason: [
      /^configSchema schema\.json is not a valid JSON Schema: strict mode \(fix the keyword\): unknown keyword: "defualt"/,
    ],
  },
];

describe("an author's mistakes are refused with what to fix", () => {
  let listed = new Map<string, Listed>();
  before(async () => {
    // What `zen-watcher plugin new NAME --kind webhook` writes (in-process here; the CLI is tested elsewhere).
    for (const name of ['still-fine', ...CASES.map((c) => c.name)]) {
      scaffoldPlugin({ name, kind: 'webhook', dir: join(tmp, name) });
    }
    for (const c of CASES) c.edit(join(tmp, c.name));
    const r = await runCli(['plugins', 'list', '-o', 'json'], { ZEN_PLUGIN_DIRS: tmp });
    assert.equal(r.code, 0, r.stderr);
    listed = new Map((JSON.parse(r.stdout) as Listed[]).map((p) => [p.name, p]));
  });

  test('a good plugin next to the broken ones loads', () => {
    assert.equal(listed.get('still-fine')?.status, 'loaded', listed.get('still-fine')?.reason);
  });

  for (const c of CASES) {
    test(`${c.what}: plugins list says ${c.status} and why`, () => {
      const p = listed.get(c.name);
      assert.equal(p?.status, c.status, JSON.stringify(p));
      assert.equal(p?.version, '0.1.0');
      for (const re of c.reason) assert.match(p?.reason ?? '', re);
      assert.doesNotMatch(p?.reason ?? '', /must match pattern/, 'no raw regular expressions for authors');
    });
  }

  test('`plugin test` refuses the same plugin with the same reason (exit 1) before running any test', async () => {
    const r = await runCli(['plugin', 'test', join(tmp, 'needs-next-api')]);
    assert.equal(r.code, 1, show({ ...r }));
    assert.match(r.stderr, /plugin 'needs-next-api' would not load \(incompatible\): needs host plugin API \^2\.0\.0/);
    assert.doesNotMatch(r.stdout, /ℹ tests/);
  });
});
