// Run the test control plane in the foreground:
//
//   node test/controlplane/cli.ts --kubeconfig FILE [--crd-dir DIR] [--extra-token ROW]...
//                                 [--audit-policy FILE --audit-webhook-url URL]
//
// Prints where the kubeconfig is, then runs until SIGINT/SIGTERM (Ctrl-C) and
// stops the control plane cleanly.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startControlPlane } from './harness.ts';

const usage =
  'usage: node test/controlplane/cli.ts --kubeconfig FILE [--crd-dir DIR] [--extra-token ROW]... ' +
  '[--audit-policy FILE --audit-webhook-url URL]';

async function main(): Promise<number> {
  let values: {
    kubeconfig?: string;
    'crd-dir'?: string;
    'extra-token'?: string[];
    'audit-policy'?: string;
    'audit-webhook-url'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        kubeconfig: { type: 'string' },
        'crd-dir': { type: 'string' },
        'extra-token': { type: 'string', multiple: true },
        'audit-policy': { type: 'string' },
        'audit-webhook-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (!values.kubeconfig) {
    process.stderr.write(`--kubeconfig is required\n${usage}\n`);
    return 2;
  }

  if ((values['audit-policy'] === undefined) !== (values['audit-webhook-url'] === undefined)) {
    process.stderr.write(`--audit-policy and --audit-webhook-url go together\n${usage}\n`);
    return 2;
  }
  const policyFile = values['audit-policy'];
  const audit =
    policyFile !== undefined
      ? { policy: readFileSync(policyFile, 'utf8'), webhookUrl: values['audit-webhook-url'] as string }
      : undefined;

  const t0 = Date.now();
  const cp = await startControlPlane({
    kubeconfigPath: values.kubeconfig,
    crdDir: values['crd-dir'],
    extraTokens: values['extra-token'],
    ...(audit ? { audit } : {}),
  });
  if (cp.external) {
    process.stdout.write(
      `ZEN_TEST_KUBECONFIG is set: using the external cluster at ${cp.kubeconfigPath}; nothing started.\n`,
    );
    return 0;
  }
  process.stdout.write(
    `control plane ready in ${Date.now() - t0} ms\n` +
      `  server:     ${cp.server}\n` +
      `  kubeconfig: ${cp.kubeconfigPath}\n` +
      `  log:        ${cp.logPath}\n` +
      `  export KUBECONFIG=${cp.kubeconfigPath}\n` +
      `Ctrl-C (SIGINT) or SIGTERM stops it.\n`,
  );

  // The harness unrefs the child; keep this process alive until told to stop.
  const keepAlive = setInterval(() => {}, 1 << 30);
  return await new Promise<number>((res) => {
    let stopping = false;
    const onSignal = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`${sig}: stopping the control plane...\n`);
      cp.stop().then(
        () => {
          clearInterval(keepAlive);
          process.stdout.write('stopped.\n');
          res(0);
        },
        (e: unknown) => {
          clearInterval(keepAlive);
          process.stderr.write(`stop failed: ${(e as Error).message}\n`);
          res(1);
        },
      );
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    cp.exited.then(({ code, signal }) => {
      if (stopping) return;
      clearInterval(keepAlive);
      process.stderr.write(`control plane exited unexpectedly (${code ?? signal}); log: ${cp.logPath}\n`);
      res(1);
    });
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
