/**
 * A loopback HTTP server that stops and listens again on the same port: the receiver side of delivery tests, where
 * a destination goes away (connections refused: a known failure, nothing sent) and comes back at the same address.
 * Stopping cuts every open connection, and with it every answer being held (see hold()).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class RestartableServer {
  #server: Server | undefined;
  #port = 0;
  readonly #held = new Set<ServerResponse>();
  readonly #handler: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(handler: (req: IncomingMessage, res: ServerResponse) => void) {
    this.#handler = handler;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens (again on the same port after stop()). */
  async listen(): Promise<void> {
    const server = createServer(this.#handler);
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.#port, host: '127.0.0.1' }, () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Keeps `res` open, never answered, until stop() cuts it (a sender that cannot know the outcome). */
  hold(res: ServerResponse): void {
    this.#held.add(res);
    res.once('close', () => this.#held.delete(res));
  }

  /** Refuses connections until listen() again; requests in flight and held answers are cut. */
  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    for (const r of this.#held) r.destroy();
    this.#held.clear();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
