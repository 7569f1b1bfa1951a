import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { cgroupQuota, STORE_WORKER_MIN_CPUS, storeWriterFor, usableCpus } from './usable-cpus.ts';

/** A cgroup tree in a temp dir: path → content. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'zw-cgroup-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('cgroup v2: cpu.max of the process cgroup, else the namespaced root; "max" is no limit', (t) => {
  const root = tree({
    'kubepods/pod1/c1/cpu.max': '150000 100000\n',
    'cpu.max': '50000 100000\n',
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(cgroupQuota(root, '0::/kubepods/pod1/c1\n'), 1.5);
  assert.equal(cgroupQuota(root, '0::/\n'), 0.5, 'a container sees its own cgroup as the root');
  assert.equal(cgroupQuota(root, '0::/elsewhere\n'), 0.5, 'own cgroup not visible: the root');
  const unlimited = tree({ 'cpu.max': 'max 100000\n' });
  t.after(() => rmSync(unlimited, { recursive: true, force: true }));
  assert.equal(cgroupQuota(unlimited, '0::/\n'), undefined);
});

test('cgroup v1: cfs quota over period in the cpu controller (also cpu,cpuacct); -1 is no limit', (t) => {
  const root = tree({
    'cpu/kubepods/c1/cpu.cfs_quota_us': '200000\n',
    'cpu/kubepods/c1/cpu.cfs_period_us': '100000\n',
    'cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
    'cpu,cpuacct/cpu.cfs_period_us': '100000\n',
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(cgroupQuota(root, '2:cpuacct:/x\n1:cpu:/kubepods/c1\n0::/\n'), 2);
  assert.equal(cgroupQuota(root, '1:cpu,cpuacct:/\n'), undefined);
  assert.equal(cgroupQuota(root, '4:memory:/x\n'), undefined, 'no cpu controller: no quota');
  assert.equal(cgroupQuota(join(root, 'missing'), '0::/\n1:cpu:/\n'), undefined, 'nothing readable: no quota');
});

test('usable CPUs: the lower of the CPUs it may run on and the quota, saying which bounds it', (t) => {
  const root = tree({ 'cpu.max': '100000 100000\n' });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(usableCpus({ parallelism: 8, cgroupRoot: root, procCgroup: '0::/\n' }), {
    cpus: 1,
    boundBy: 'cgroup quota',
  });
  assert.deepEqual(usableCpus({ parallelism: 1, cgroupRoot: root, procCgroup: '0::/\n' }), {
    cpus: 1,
    boundBy: 'affinity',
  });
  assert.deepEqual(usableCpus({ parallelism: 4, cgroupRoot: join(root, 'none'), procCgroup: '' }), {
    cpus: 4,
    boundBy: 'affinity',
  });
  const here = usableCpus();
  assert.ok(here.cpus > 0, 'this machine has a usable CPU count');
});

test('ZEN_STORE_WRITER=auto: the worker from STORE_WORKER_MIN_CPUS usable CPUs, the event loop below; set values win', () => {
  const at =
    (cpus: number, boundBy: 'affinity' | 'cgroup quota' = 'affinity') =>
    () => ({ cpus, boundBy });
  assert.equal(STORE_WORKER_MIN_CPUS, 3);
  assert.deepEqual(storeWriterFor('auto', at(1, 'cgroup quota')), {
    writer: 'inline',
    why: 'ZEN_STORE_WRITER=auto: 1 usable CPUs (cgroup quota); a writer thread pays from 3',
  });
  assert.equal(storeWriterFor('auto', at(2)).writer, 'inline');
  assert.equal(storeWriterFor('auto', at(2.99)).writer, 'inline');
  assert.equal(storeWriterFor('auto', at(3)).writer, 'worker');
  assert.match(storeWriterFor('auto', at(16)).why, /16 usable CPUs \(affinity\)/);
  assert.deepEqual(storeWriterFor('worker', at(1)), { writer: 'worker', why: 'ZEN_STORE_WRITER=worker' });
  assert.deepEqual(storeWriterFor('inline', at(64)), { writer: 'inline', why: 'ZEN_STORE_WRITER=inline' });
});
