// The example app poold serves in the quick start. A pool's app module exports
// a Node request listener (an Express app works as is), or, as here, an object
// with a handler and optional init/shutdown hooks.

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this worker's thread, as CPU-bound or synchronous code would. */
function blockFor(ms) {
  Atomics.wait(sleeper, 0, 0, ms);
}

function handler(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/block') {
    const ms = Math.min(Number(url.searchParams.get('ms') ?? 200), 60_000);
    blockFor(ms);
    res.end(`blocked ${ms} ms in worker ${process.pid}\n`);
    return;
  }
  res.setHeader('content-type', 'text/plain');
  res.end(`Hello from poold worker ${process.pid}\n`);
}

export default {
  handler,
  async init() {
    // Open database pools, warm caches... The worker takes no request before this resolves.
  },
  async shutdown() {
    // Close what init() opened. Runs on graceful stop, after in-flight requests finished.
  },
};
