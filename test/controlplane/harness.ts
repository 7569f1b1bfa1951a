// Test control plane harness: starts a real kube-apiserver + embedded etcd
// (test/controlplane/main.go, built by scripts/build-controlplane.sh) and
// hands back a kubeconfig for it. See README.md next to this file.
//
// Node 24 type stripping: erasable TypeScript only, node built-ins only.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ControlPlane {
  /** Absolute path of an admin kubeconfig (token auth, system:masters). */
  kubeconfigPath: string;
  /** e.g. https://127.0.0.1:PORT ('' if unknown for an external cluster). */
  server: string;
  /** Admin bearer token ('' if unknown for an external cluster). */
  token: string;
  /** Stops the control plane (no-op when external). Safe to call twice. */
  stop(): Promise<void>;
  /** True when ZEN_TEST_KUBECONFIG pointed at an existing cluster. */
  external: boolean;
  /** CA certificate (PEM) from the kubeconfig, if it has one inline. */
  caPem?: string;
  /** Where the control plane's stderr goes (not set when external). */
  logPath?: string;
  /** Process id of the control plane (not set when external). */
  pid?: number;
  /** Resolves when the control plane process exits (never, when external). */
  exited: Promise<{ code: number | null; signal: string | null }>;
}

export interface StartOptions {
  /** Apply every *.yaml CRD in this directory once ready (waits for Established). */
  crdDir?: string;
  /** Extra tokens.csv rows, e.g. 'tok,alice,alice-uid,"team-a"' (no RBAC is granted). */
  extraTokens?: string[];
  /** Time from spawn to the ready line; default 90 000 ms. Does not include the build. */
  startTimeoutMs?: number;
  /** Where to write the kubeconfig; default: a new temp dir (removed by stop()). */
  kubeconfigPath?: string;
  /**
   * Run the kube-apiserver audit webhook backend: `policy` is the text (YAML or JSON) of an audit.k8s.io/v1 Policy,
   * `webhookUrl` the URL the API server POSTs EventList batches to (batch mode, at most 100 ms per batch; see
   * main.go auditArgs). Not possible with ZEN_TEST_KUBECONFIG (an external cluster): startControlPlane rejects.
   */
  audit?: { policy: string; webhookUrl: string };
  /** Extra kube-apiserver flags, appended last (e.g. '--audit-webhook-batch-max-size=1'). */
  apiserverArgs?: string[];
}

/** The webhook kubeconfig the API server reads with --audit-webhook-config-file. */
export function auditWebhookKubeconfig(url: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'audit-sink', cluster: { server: url } }],
    contexts: [{ name: 'audit-sink', context: { cluster: 'audit-sink', user: '' } }],
    'current-context': 'audit-sink',
    users: [],
  });
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const buildScript = join(repoRoot, 'scripts', 'build-controlplane.sh');

const DEFAULT_START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;

let binaryPromise: Promise<string> | undefined;

/**
 * Builds the control plane binary if needed (cached outside the repo) and
 * returns its absolute path. ZEN_CONTROLPLANE_BIN overrides the build.
 */
export async function controlPlaneBinary(): Promise<string> {
  const override = process.env.ZEN_CONTROLPLANE_BIN;
  if (override) return resolve(override);
  binaryPromise ??= buildBinary();
  try {
    return await binaryPromise;
  } catch (err) {
    binaryPromise = undefined; // let a later call retry
    throw err;
  }
}

function buildBinary(): Promise<string> {
  return new Promise((resolvePath, reject) => {
    // Progress goes to our stderr: a cold build takes minutes.
    const child = spawn('bash', [buildScript], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`${buildScript} failed (exit ${code ?? signal}); see the messages above`));
        return;
      }
      const lines = out
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      const path = lines.at(-1);
      if (!path || !existsSync(path)) {
        reject(new Error(`${buildScript} printed no binary path (stdout: ${JSON.stringify(out)})`));
        return;
      }
      resolvePath(path);
    });
  });
}

/** Starts a control plane, or returns the external one from ZEN_TEST_KUBECONFIG. */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const externalPath = process.env.ZEN_TEST_KUBECONFIG;
  if (externalPath) {
    if (opts.audit || opts.apiserverArgs?.length) {
      throw new Error('audit and apiserverArgs need a control plane started here; ZEN_TEST_KUBECONFIG is set');
    }
    return externalControlPlane(resolve(externalPath));
  }

  const bin = await controlPlaneBinary();
  const tmp = await mkdtemp(join(tmpdir(), 'zen-controlplane-'));
  const logPath = join(tmp, 'controlplane.log');
  const kubeconfigPath = resolve(opts.kubeconfigPath ?? join(tmp, 'kubeconfig'));
  const args = ['--kubeconfig', kubeconfigPath];
  if (opts.crdDir) args.push('--crd-dir', resolve(opts.crdDir));
  for (const t of opts.extraTokens ?? []) args.push('--extra-token', t);
  if (opts.audit) {
    const policy = join(tmp, 'audit-policy.yaml');
    const webhook = join(tmp, 'audit-webhook.kubeconfig');
    await writeFile(policy, opts.audit.policy);
    await writeFile(webhook, auditWebhookKubeconfig(opts.audit.webhookUrl), { mode: 0o600 });
    args.push('--audit-policy-file', policy, '--audit-webhook-config-file', webhook);
  }
  for (const a of opts.apiserverArgs ?? []) args.push(`--apiserver-arg=${a}`);

  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    // stdin stays an open pipe: the child stops when it reaches EOF, i.e.
    // when this process dies without calling stop(). detached: its own
    // process group, so a terminal's Ctrl-C reaches only us and we stop it.
    child = spawn(bin, args, { stdio: ['pipe', 'pipe', logFd], detached: true });
  } finally {
    closeSync(logFd);
  }

  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
    // A failed spawn (e.g. ENOENT) emits 'error' and never 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) res({ code: null, signal: null });
    });
  });
  child.stdin?.on('error', () => {}); // EPIPE if the child is gone; never fatal here
  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);

  let ready: { kubeconfig: string; server: string; token: string };
  try {
    ready = await readReadyLine(child, exited, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (err) {
    await terminate(child, exited);
    process.removeListener('exit', killOnExit);
    const tail = await logTail(logPath);
    if (tail.trim() === '') {
      await rm(tmp, { recursive: true, force: true }); // nothing worth keeping
      throw new Error(`control plane failed to start: ${(err as Error).message} (${bin} logged nothing)`);
    }
    process.stderr.write(
      `control plane failed to start: ${(err as Error).message}\n--- ${logPath} (errors and tail) ---\n${tail}\n---\n`,
    );
    throw new Error(`control plane failed to start: ${(err as Error).message} (log: ${logPath})`);
  }

  // Don't let the child (or its pipes) keep this process alive: if a test
  // forgets stop(), we exit, stdin closes, and the child cleans up.
  child.unref();
  unrefStream(child.stdin);
  unrefStream(child.stdout);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const res = await terminate(child, exited);
      process.removeListener('exit', killOnExit);
      if (res.code === 0) {
        await rm(tmp, { recursive: true, force: true });
      } else {
        process.stderr.write(`control plane exited with ${res.code ?? res.signal}; log kept at ${logPath}\n`);
      }
    })();
    return stopping;
  };

  const caPem = kubeconfigCa(kubeconfigPath);
  return {
    kubeconfigPath: ready.kubeconfig,
    server: ready.server,
    token: ready.token,
    stop,
    external: false,
    caPem,
    logPath,
    pid: child.pid,
    exited,
  };
}

function readReadyLine(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: string | null }>,
  timeoutMs: number,
): Promise<{ kubeconfig: string; server: string; token: string }> {
  return new Promise((res, rej) => {
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, value?: { kubeconfig: string; server: string; token: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout?.removeListener('data', onData);
      if (err) rej(err);
      else if (value) res(value);
    };
    const timer = setTimeout(() => finish(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: string): void => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl).trim();
      try {
        const v = JSON.parse(line) as { kubeconfig?: unknown; server?: unknown; token?: unknown };
        if (typeof v.kubeconfig !== 'string' || typeof v.server !== 'string' || typeof v.token !== 'string') {
          throw new Error('missing fields');
        }
        finish(undefined, { kubeconfig: v.kubeconfig, server: v.server, token: v.token });
      } catch (e) {
        finish(new Error(`unexpected stdout line ${JSON.stringify(line)}: ${(e as Error).message}`));
      }
    };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', onData);
    child.once('error', (e) => finish(e));
    exited.then(({ code, signal }) => finish(new Error(`exited early (${code ?? signal})`)));
  });
}

async function terminate(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: string | null }>,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      process.stderr.write(`control plane did not stop within ${STOP_GRACE_MS} ms; sending SIGKILL\n`);
      child.kill('SIGKILL');
    }
  }
  child.stdin?.destroy();
  return exited;
}

function unrefStream(s: unknown): void {
  const r = s as { unref?: () => void } | null;
  r?.unref?.();
}

/**
 * The interesting end of the child's log: klog info/warning lines (most of it,
 * including ~100 lines of shutdown chatter) are left out; the full log stays
 * at `path`.
 */
async function logTail(path: string, lines = 40): Promise<string> {
  try {
    const all = (await readFile(path, 'utf8')).split('\n');
    return all
      .filter((l) => !/^[IW]\d{4} /.test(l))
      .slice(-lines)
      .join('\n');
  } catch (e) {
    return `(cannot read log: ${(e as Error).message})`;
  }
}

// ---------------------------------------------------------------- external

async function externalControlPlane(path: string): Promise<ControlPlane> {
  const text = await readFile(path, 'utf8');
  const info = kubeconfigInfo(text);
  return {
    kubeconfigPath: path,
    server: info.server,
    token: info.token,
    caPem: info.caPem,
    stop: async () => {},
    external: true,
    exited: new Promise(() => {}),
  };
}

function kubeconfigCa(path: string): string | undefined {
  try {
    return kubeconfigInfo(readFileSync(path, 'utf8')).caPem;
  } catch {
    return undefined;
  }
}

/**
 * Reads server, token and inline CA of the current context. Kubeconfigs are
 * YAML or JSON; this understands JSON and the block-style YAML subset that
 * kubectl/client-go write. Anything it cannot read comes back as ''.
 */
export function kubeconfigInfo(text: string): { server: string; token: string; caPem?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    try {
      doc = parseSimpleYaml(text);
    } catch {
      return { server: '', token: '' };
    }
  }
  const root = asRecord(doc);
  const named = (list: unknown, name: unknown, field: string): Record<string, unknown> => {
    if (!Array.isArray(list)) return {};
    const hit = list.map(asRecord).find((e) => e.name === name) ?? (list.length === 1 ? asRecord(list[0]) : {});
    return asRecord(hit[field]);
  };
  const ctx = named(root.contexts, root['current-context'], 'context');
  const cluster = named(root.clusters, ctx.cluster, 'cluster');
  const user = named(root.users, ctx.user, 'user');
  const caData = typeof cluster['certificate-authority-data'] === 'string' ? cluster['certificate-authority-data'] : '';
  return {
    server: typeof cluster.server === 'string' ? cluster.server : '',
    token: typeof user.token === 'string' ? user.token : '',
    caPem: caData ? Buffer.from(caData, 'base64').toString('utf8') : undefined,
  };
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

interface YamlLine {
  indent: number;
  text: string;
}

/** Minimal block-YAML reader: mappings, sequences, plain/quoted scalars, {} and []. */
function parseSimpleYaml(text: string): unknown {
  const lines: YamlLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*(#.*)?$/.test(raw) || raw.trim() === '---') continue;
    const indent = raw.length - raw.trimStart().length;
    lines.push({ indent, text: raw.trim() });
  }
  const pos = { i: 0 };
  return parseBlock(lines, pos, lines[0]?.indent ?? 0);
}

function parseBlock(lines: YamlLine[], pos: { i: number }, indent: number): unknown {
  const at = (): YamlLine | undefined => lines[pos.i];
  const isItem = (l: YamlLine | undefined): l is YamlLine =>
    l !== undefined && l.indent === indent && (l.text.startsWith('- ') || l.text === '-');
  if (isItem(at())) {
    const arr: unknown[] = [];
    for (let line = at(); isItem(line); line = at()) {
      const rest = line.text === '-' ? '' : line.text.slice(2).trim();
      if (rest === '') {
        pos.i++;
        const next = at();
        arr.push(next && next.indent > indent ? parseBlock(lines, pos, next.indent) : null);
      } else if (keyValue(rest)) {
        // "- key: value" starts a mapping whose keys sit after the "- ".
        const childIndent = indent + (line.text.length - rest.length);
        lines[pos.i] = { indent: childIndent, text: rest };
        arr.push(parseBlock(lines, pos, childIndent));
      } else {
        pos.i++;
        arr.push(scalar(rest));
      }
    }
    return arr;
  }
  const obj: Record<string, unknown> = {};
  for (let line = at(); line && line.indent === indent; line = at()) {
    const kv = keyValue(line.text);
    if (!kv) throw new Error(`cannot parse line: ${line.text}`);
    pos.i++;
    const next = at();
    if (kv.value !== '') {
      obj[kv.key] = scalar(kv.value);
    } else if (next && next.indent > indent) {
      obj[kv.key] = parseBlock(lines, pos, next.indent);
    } else if (next && next.indent === indent && next.text.startsWith('-')) {
      obj[kv.key] = parseBlock(lines, pos, indent); // sequence at the key's own indent
    } else {
      obj[kv.key] = null;
    }
  }
  return obj;
}

function keyValue(text: string): { key: string; value: string } | undefined {
  const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"\s][^:]*?)\s*:(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  return { key: String(scalar(m[1] ?? '')), value: (m[2] ?? '').trim() };
}

function scalar(v: string): unknown {
  if (v.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(v);
    return m ? JSON.parse(`"${m[1] ?? ''}"`) : v;
  }
  if (v.startsWith("'")) {
    const m = /^'((?:[^']|'')*)'/.exec(v);
    return m ? (m[1] ?? '').replace(/''/g, "'") : v;
  }
  const s = v.replace(/\s+#.*$/, '');
  if (s.startsWith('{') && s.endsWith('}')) {
    // Flat flow mapping such as {cluster: a, user: b}.
    const obj: Record<string, unknown> = {};
    for (const part of s.slice(1, -1).split(',')) {
      if (part.trim() === '') continue;
      const kv = keyValue(part.trim());
      if (kv) obj[kv.key] = scalar(kv.value);
    }
    return obj;
  }
  if (s === '[]') return [];
  if (s === 'null' || s === '~') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  return s;
}
