/**
 * The real third-party fixture corpus (../shared/fixtures/real, or ZEN_REAL_FIXTURES). It is read from there,
 * never copied into the repo. When it is absent, suites skip and say so — except under CI=true, where a missing
 * corpus fails the run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from '../../core/config/env.ts';

export function realFixturesDir(): string | undefined {
  const dir = resolve(process.env.ZEN_REAL_FIXTURES ?? join(REPO_ROOT, '..', 'shared', 'fixtures', 'real'));
  return existsSync(dir) ? dir : undefined;
}

/** The corpus directory for `tool` (trivy, kyverno, falco, audit); skips the test (or fails under CI) if absent. */
export function requireRealFixtures(t: TestContext, tool: string): string | undefined {
  const dir = realFixturesDir();
  const sub = dir ? join(dir, tool) : undefined;
  if (sub && existsSync(sub)) return sub;
  const why = `real fixture corpus not found (${sub ?? 'ZEN_REAL_FIXTURES / ../shared/fixtures/real'}); set ZEN_REAL_FIXTURES`;
  if (process.env.CI === 'true') throw new Error(`${why} — required under CI=true`);
  t.skip(why);
  return undefined;
}

export function listFiles(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}
