import { createServer } from 'node:net';
import { parseStackEnv, requireServer, stackEnv } from '../integration/support/stack';

describe('integration test support when the stack is down', () => {
  it('fails with how to start the stack when nothing listens on the port', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    await new Promise((resolve) => server.close(resolve));
    await expect(requireServer('Kafka', '127.0.0.1', port)).rejects.toThrow(`Kafka is not reachable at 127.0.0.1:${port}: start the local stack with \`npm run stack -- up\``);
  });

  it('passes when the server listens', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    try {
      await expect(requireServer('Kafka', '127.0.0.1', port)).resolves.toBeUndefined();
    } finally {
      server.close();
    }
  });

  it('names the missing settings file and the command that writes it', () => {
    const previous = process.env['IDSYNC_STACK_DIR'];
    process.env['IDSYNC_STACK_DIR'] = '/nonexistent/idsync-stack';
    try {
      expect(() => stackEnv()).toThrow('settings file /nonexistent/idsync-stack/stack.env is missing: start the local stack with `npm run stack -- up`');
    } finally {
      if (previous === undefined) delete process.env['IDSYNC_STACK_DIR'];
      else process.env['IDSYNC_STACK_DIR'] = previous;
    }
  });

  it('reads the quoted values the stack script writes, spaces included', () => {
    expect(parseStackEnv("# comment\nDS_BIND_DN='cn=Directory Manager'\nKAFKA_BROKERS='127.0.0.1:9092'\n")).toEqual({
      DS_BIND_DN: 'cn=Directory Manager',
      KAFKA_BROKERS: '127.0.0.1:9092',
    });
  });
});
