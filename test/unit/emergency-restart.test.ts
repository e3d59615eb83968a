import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CrashWindow } from '../../src/master/emergency-restart.js';

describe('emergency restart window', () => {
  it('fires when threshold crashes fall within the interval, then starts over', () => {
    const window = new CrashWindow(3, 60_000);
    assert.equal(window.record(0), false);
    assert.equal(window.record(10_000), false);
    assert.equal(window.record(60_000), true, 'three within 60 s (inclusive)');
    assert.equal(window.record(61_000), false, 'the ring started over');
    assert.equal(window.record(62_000), false);
    assert.equal(window.record(63_000), true);
  });

  it('slides: old crashes fall out of the window', () => {
    const window = new CrashWindow(2, 1000);
    assert.equal(window.record(0), false);
    assert.equal(window.record(1500), false, '1.5 s apart');
    assert.equal(window.record(2000), true, 'the last two are 0.5 s apart');
  });

  it('is off when either setting is 0', () => {
    for (const window of [new CrashWindow(0, 1000), new CrashWindow(1, 0)]) {
      for (let i = 0; i < 5; i++) assert.equal(window.record(i), false);
    }
  });
});
