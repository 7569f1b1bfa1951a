import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EnvError, readEnv } from './env.ts';

/** The EnvError readEnv throws for `env`, asserted to name `variable`. */
function refused(env: Record<string, string>, variable: string, message?: RegExp): EnvError {
  try {
    readEnv(env);
  } catch (err) {
    assert.ok(err instanceof EnvError, `expected an EnvError, got ${err}`);
    assert.equal(err.variable, variable);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`readEnv accepted ${JSON.stringify(env)}`);
}

describe('integer variables', () => {
  test('hex, binary, octal, exponent and decimal-point forms are refused, naming the variable', () => {
    for (const v of ['0x10', '0b1', '0o7', '1e3', '8080.0', '1_000', '+80', '8 080', 'Infinity', 'abc']) {
      refused({ PORT: v }, 'PORT', /must be an integer in \[0, 65535\] written in decimal digits/);
    }
    refused({ ZEN_MAX_BODY_BYTES: '0b1' }, 'ZEN_MAX_BODY_BYTES');
    refused({ ZEN_WEBHOOK_ACK_WAIT_MS: '1e3' }, 'ZEN_WEBHOOK_ACK_WAIT_MS');
  });
  test('out of range is refused with the range', () => {
    refused({ PORT: '70000' }, 'PORT', /must be an integer in \[0, 65535\], got '70000'/);
    refused({ PORT: '-1' }, 'PORT');
  });
  test('blank counts as unset: the default, or the upstream alias', () => {
    assert.equal(readEnv({ PORT: ' ' }).port, 8080);
    assert.equal(readEnv({ PORT: '' }).port, 8080);
    assert.equal(readEnv({ PORT: '\t', WATCHER_PORT: '9000' }).port, 9000);
    assert.equal(readEnv({ ZEN_MAX_BODY_BYTES: '  ' }).maxBodyBytes, 1_048_576);
  });
  test('plain decimal with surrounding whitespace is accepted', () => {
    assert.equal(readEnv({ PORT: ' 8081 ' }).port, 8081);
    assert.equal(readEnv({ PORT: '0' }).port, 0);
    assert.ok(Object.is(readEnv({ PORT: '-0' }).port, 0));
    assert.equal(readEnv({ ZEN_MAX_BODY_BYTES: '0100' }).maxBodyBytes, 100);
  });
});

describe('seconds variables (fractions allowed)', () => {
  test('decimal fractions are accepted, other forms refused, blank is unset', () => {
    assert.equal(readEnv({ ZEN_LEASE_DURATION_SECONDS: '0.5' }).leaseDurationMs, 500);
    assert.equal(readEnv({ ZEN_LEASE_DURATION_SECONDS: ' 20 ' }).leaseDurationMs, 20_000);
    assert.equal(readEnv({ ZEN_LEASE_DURATION_SECONDS: ' ' }).leaseDurationMs, 15_000);
    for (const v of ['1e1', '0x10', 'Infinity', '0', '3601', '1,5']) {
      refused({ ZEN_LEASE_DURATION_SECONDS: v }, 'ZEN_LEASE_DURATION_SECONDS', /number of seconds in \(0, 3600\]/);
    }
  });
});

describe('webhook acknowledgement', () => {
  test('ZEN_WEBHOOK_ACK_WAIT_MS=0 with retry (the default) is refused, naming both variables and why', () => {
    for (const env of [{}, { ZEN_WEBHOOK_ACK_PENDING: 'retry' }] as Record<string, string>[]) {
      const err = refused({ ...env, ZEN_WEBHOOK_ACK_WAIT_MS: '0' }, 'ZEN_WEBHOOK_ACK_WAIT_MS');
      assert.match(err.message, /ZEN_WEBHOOK_ACK_PENDING=accept/);
      assert.match(err.message, /never get a 2xx/);
    }
  });
  test('0 with accept means answer 202 at once; 1 with retry is fine', () => {
    const accept = readEnv({ ZEN_WEBHOOK_ACK_WAIT_MS: '0', ZEN_WEBHOOK_ACK_PENDING: 'accept' });
    assert.deepEqual([accept.ackWaitMs, accept.ackPending], [0, 'accept']);
    const retry = readEnv({ ZEN_WEBHOOK_ACK_WAIT_MS: '1' });
    assert.deepEqual([retry.ackWaitMs, retry.ackPending], [1, 'retry']);
  });
});
