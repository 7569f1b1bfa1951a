import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadline } from './deadlines.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('deadlines fire in order; cancelled ones never fire, wherever they are in the list', async () => {
  const fired: number[] = [];
  const ds = Array.from({ length: 6 }, (_, i) => deadline(15, (n: number) => fired.push(n), i));
  ds[0]!.cancel(); // the one the list's timer is armed for
  ds[3]!.cancel(); // one in the middle
  ds[5]!.cancel(); // the newest
  ds[3]!.cancel(); // twice: a no-op
  while (fired.length < 3) await tick(5);
  await tick(30);
  assert.deepEqual(fired, [1, 2, 4]);
  ds[1]!.cancel(); // after it fired: a no-op
});

test('a list emptied by cancels still serves deadlines set later, and one set from a firing callback', async () => {
  const fired: string[] = [];
  deadline(7, () => {}, undefined).cancel();
  await tick(20);
  await new Promise<void>((resolve) => {
    deadline(
      7,
      () => {
        fired.push('first');
        deadline(
          7,
          () => {
            fired.push('second');
            resolve();
          },
          undefined,
        );
      },
      undefined,
    );
  });
  assert.deepEqual(fired, ['first', 'second']);
});

test('lists of different delays are independent', async () => {
  const fired: number[] = [];
  const slow = deadline(60_000, () => fired.push(60_000), undefined);
  await new Promise<void>((resolve) =>
    deadline(
      3,
      () => {
        fired.push(3);
        resolve();
      },
      undefined,
    ),
  );
  slow.cancel();
  assert.deepEqual(fired, [3]);
});
