/**
 * The baseline for webhook ingest: a bare `node:http` server that reads the body, parses it as JSON and answers
 * 202, nothing else (no routing, validation, pipeline or store). Same Node, same machine, same load generator as
 * zen-watcher. `GET /eventloop` answers its own event-loop delay (monitorEventLoopDelay, as the bench plugin
 * measures inside zen-watcher); `?reset=1` starts a new window. Prints `{"port":N}` on stdout when listening.
 */
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
const eld = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
eld.enable();
const delayS = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/eventloop')) {
    const body = JSON.stringify({
      p50: delayS(eld.percentile(50)),
      p99: delayS(eld.percentile(99)),
      max: delayS(eld.max),
      count: eld.count,
    });
    if (req.url.includes('reset=1')) eld.reset();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let status = 202;
    let body = '{"status":"queued"}';
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      status = 400;
      body = '{"error":"ZW_ERR_BAD_JSON"}';
    }
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
