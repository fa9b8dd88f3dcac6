import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a real server, for fault cases: it forwards bytes both ways until told to
 * `stall` (connections stay open, new ones are accepted, nothing moves: a server or network that hangs) or to `cut`
 * (every connection reset: a firewall or load balancer dropping them). TLS passes through untouched.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; server: Socket }>();
  private stalled = false;
  /** Connections accepted since the start (a stalled proxy cannot see a client close: it reads nothing). */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    // (Connections come once it listens, after `proxy` is set below.)
    const server = createServer((client) => proxy.accept(client, targetHost, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const proxy = new TcpProxy(server, typeof address === 'object' && address !== null ? address.port : 0);
    return proxy;
  }

  /** Client connections open now. */
  get open(): number {
    return this.pairs.size;
  }

  /** Stops moving bytes, both ways, on every connection, old and new; nothing is closed. */
  stall(): void {
    this.stalled = true;
    for (const { client, server } of this.pairs) {
      client.pause();
      server.pause();
    }
  }

  /** Moves bytes again. */
  resume(): void {
    this.stalled = false;
    for (const { client, server } of this.pairs) {
      client.resume();
      server.resume();
    }
  }

  /** Resets every open connection. */
  cut(): void {
    for (const { client, server } of this.pairs) {
      client.resetAndDestroy();
      server.destroy();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    const server = connect(port, host);
    const pair = { client, server };
    this.pairs.add(pair);
    this.accepted += 1;
    client.pipe(server);
    server.pipe(client);
    // After pipe(), which resumes its source.
    if (this.stalled) {
      client.pause();
      server.pause();
    }
    const close = (): void => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      server.destroy();
    };
    client.on('error', close).on('close', close);
    server.on('error', close).on('close', close);
  }
}
