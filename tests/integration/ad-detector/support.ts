import { Attribute, Change, type Client } from 'ldapts';
import { type Kafka, type Consumer } from 'kafkajs';
import { decodeEntryChange, type EntryChangeEvent } from '@idsync/contracts';
import { uniqueSuffix } from '../support/stack';

/** Every committed event of a topic, as a read_committed subscriber sees it. */
export class EventLog {
  readonly events: EntryChangeEvent[] = [];
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
  ) {}

  async start(): Promise<void> {
    this.consumer = this.kafka.consumer({ groupId: `idsync-test-ad-${uniqueSuffix()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        this.events.push(decodeEntryChange(message.value));
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  /** Waits until an event matches; fails with what arrived instead. */
  async waitFor(what: string, match: (e: EntryChangeEvent) => boolean, timeoutMs = 30_000): Promise<EntryChangeEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        const seen = this.events.map((e) => `${e.op} ${e.dn} ${JSON.stringify(e.attributes.map((a) => `${a.op}:${a.name}`))}`);
        throw new Error(`no event for ${what} within ${timeoutMs} ms; events so far:\n  ${seen.join('\n  ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Test data writes in Samba; remembers what it created so cleanup removes it (children first). */
export class AdTestData {
  private readonly created: string[] = [];
  constructor(readonly client: Client) {}

  async addOu(dn: string, ou: string): Promise<void> {
    await this.client.add(dn, { objectClass: ['top', 'organizationalUnit'], ou });
    this.created.push(dn);
  }

  async addUser(dn: string, cn: string, sam: string, extra: Record<string, string | string[]> = {}): Promise<void> {
    await this.client.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sAMAccountName: sam, sn: cn, ...extra });
    this.created.push(dn);
  }

  async addGroup(dn: string, cn: string, sam: string): Promise<void> {
    await this.client.add(dn, { objectClass: ['top', 'group'], cn, sAMAccountName: sam });
    this.created.push(dn);
  }

  async modify(dn: string, operation: 'add' | 'delete' | 'replace', type: string, values: string[]): Promise<void> {
    await this.client.modify(dn, new Change({ operation, modification: new Attribute({ type, values }) }));
  }

  async move(from: string, to: string): Promise<void> {
    await this.client.modifyDN(from, to);
    const k = this.created.indexOf(from);
    if (k >= 0) this.created[k] = to;
  }

  async remove(dn: string): Promise<void> {
    await this.client.del(dn);
    const k = this.created.indexOf(dn);
    if (k >= 0) this.created.splice(k, 1);
  }

  async cleanup(): Promise<void> {
    for (const dn of [...this.created].reverse()) await this.client.del(dn).catch(() => undefined);
    this.created.length = 0;
  }
}
