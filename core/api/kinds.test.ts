import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeValue } from './helpers.ts';
import { builtinKind, builtinResource } from './kinds.ts';

test('builtinKind: by API group and plural, removed groups included; unknown or inherited names are undefined', () => {
  assert.equal(builtinKind('', 'pods'), 'Pod');
  assert.equal(builtinKind('apps', 'deployments'), 'Deployment');
  assert.equal(builtinKind('extensions', 'deployments'), 'Deployment');
  assert.equal(builtinKind('policy', 'podsecuritypolicies'), 'PodSecurityPolicy');
  assert.equal(builtinKind('apps', 'pods'), undefined);
  assert.equal(builtinKind('example.com', 'widgets'), undefined);
  assert.equal(builtinKind('', 'constructor'), undefined);
  assert.equal(builtinKind('__proto__', 'pods'), undefined);
});

test('builtinResource: the served group wins, the core group first; removed-only resources are undefined', () => {
  assert.deepEqual(builtinResource('deployments'), { apiVersion: 'apps/v1', kind: 'Deployment' });
  assert.deepEqual(builtinResource('events'), { apiVersion: 'v1', kind: 'Event' });
  assert.deepEqual(builtinResource('ingresses'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
  assert.deepEqual(builtinResource('roles'), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' });
  assert.equal(builtinResource('podsecuritypolicies'), undefined);
  assert.equal(builtinResource('toString'), undefined);
});

test('describeValue names what a value is for an error message', () => {
  assert.deepEqual([null, [], {}, 'x', 1, true, undefined].map(describeValue), [
    'null',
    'an array',
    'an object',
    'a string',
    'a number',
    'a boolean',
    'undefined',
  ]);
});
