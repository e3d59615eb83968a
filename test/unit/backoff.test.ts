import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, restartDelay } from '../../src/pool/backoff.js';

describe('restartDelay', () => {
  it('is 0 without failures', () => {
    assert.equal(restartDelay(0), 0);
    assert.equal(restartDelay(-3), 0);
  });

  it('doubles from 100 ms and caps at 30 s', () => {
    assert.equal(BACKOFF_BASE_MS, 100);
    assert.equal(BACKOFF_MAX_MS, 30_000);
    const delays = Array.from({ length: 12 }, (_, i) => restartDelay(i + 1));
    assert.deepEqual(delays, [100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000]);
  });

  it('never throws nor exceeds the cap for huge failure counts', () => {
    for (const failures of [31, 32, 64, 1_000, 1_025, 2 ** 31, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Infinity]) {
      assert.equal(restartDelay(failures), 30_000, String(failures));
    }
  });

  it('never decreases as failures grow', () => {
    let previous = 0;
    for (let failures = 0; failures < 200; failures++) {
      const delay = restartDelay(failures);
      assert.ok(Number.isFinite(delay) && delay >= previous, `${failures} → ${delay}`);
      previous = delay;
    }
  });
});
