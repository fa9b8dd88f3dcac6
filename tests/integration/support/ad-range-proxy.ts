import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Samba as Active Directory answers a large group. AD returns at most MaxValRange values of an attribute per entry
 * (1,500 by default): a plain request for `member` of a 3,000-member group comes back as `member;range=0-1499`, and
 * `member;range=1500-*` as `member;range=1500-2999` when more follow. Samba 4.17 has the same policy in its
 * Default Query Policy but applies it only to requests that name a range: a plain request gets every value.
 *
 * This TCP proxy, in front of Samba's plain LDAP port, rewrites the attribute list of each search request as AD's
 * limit would shape the answer (`member` -> `member;range=0-1499`, `member;range=1500-*` -> `member;range=1500-2999`);
 * Samba itself answers the ranges, and everything else passes through untouched. Only the attributes named
 * (default `member`) and only requests that name them: AD also slices `*` answers, which this cannot. For a group
 * under the limit AD answers plain `member` where this gives `member;range=0-*`: the same values.
 */
export interface AdRangeProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  /** Values per slice (AD's default MaxValRange: 1,500). */
  readonly maxValRange?: number;
  /** Attributes AD would slice (case-insensitive). */
  readonly attributes?: readonly string[];
}

export class AdRangeProxy {
  private readonly sockets = new Set<Socket>();
  /** Search requests whose attribute list was rewritten (a test shows the proxy was in the way). */
  rewritten = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(options: AdRangeProxyOptions): Promise<AdRangeProxy> {
    const max = options.maxValRange ?? 1_500;
    const sliced = new Set((options.attributes ?? ['member']).map((a) => a.toLowerCase()));
    // (Connections come once it listens, after `proxy` is set below.)
    const server = createServer((client) => {
      const upstream = connect(options.target.port, options.target.host);
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.once('close', () => proxy.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      upstream.pipe(client);
      let pending: Buffer = Buffer.alloc(0);
      client.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (let message = readTlv(pending, 0); message !== null; message = readTlv(pending, 0)) {
          const request = pending.subarray(0, message.end);
          pending = pending.subarray(message.end);
          let rewritten = request;
          try {
            rewritten = rewriteSearchAttributes(request, (name) => slicedDescription(name, max, sliced));
          } catch {
            // Not BER this proxy can read: the server says what is wrong with it.
          }
          if (rewritten !== request) proxy.rewritten += 1;
          upstream.write(rewritten);
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const proxy = new AdRangeProxy(server, `ldap://127.0.0.1:${port}`);
    return proxy;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The attribute description AD's limit makes of a requested one: a sliced attribute without a range gets the first
 * slice, a range longer than `max` values is cut to `max`. Others are left as they are.
 */
export function slicedDescription(description: string, max: number, sliced: ReadonlySet<string>): string {
  const [attribute, ...options] = description.split(';');
  if (attribute === undefined || !sliced.has(attribute.toLowerCase())) return description;
  const at = options.findIndex((o) => /^range=/i.test(o));
  if (at < 0) return `${description};range=0-${max - 1}`;
  const match = /^range=(\d+)-(\d+|\*)$/i.exec(options[at] as string);
  if (!match) return description;
  const low = Number(match[1]);
  const high = match[2] === '*' ? Infinity : Number(match[2]);
  if (high - low + 1 <= max) return description;
  options[at] = `range=${low}-${low + max - 1}`;
  return [attribute, ...options].join(';');
}

// BER, as much as an LDAPMessage needs: single-byte tags, definite lengths.
const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;
const SEARCH_REQUEST = 0x63;

interface Tlv {
  readonly tag: number;
  /** The whole element, header included. */
  readonly raw: Buffer;
  readonly value: Buffer;
  readonly end: number;
}

/** The element starting at `at`, or null when the buffer does not hold all of it yet. */
function readTlv(buffer: Buffer, at: number): Tlv | null {
  if (buffer.length < at + 2) return null;
  const tag = buffer[at] as number;
  let length = buffer[at + 1] as number;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (buffer.length < start + bytes) return null;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (buffer[start + i] as number);
    start += bytes;
  }
  if (buffer.length < start + length) return null;
  return { tag, raw: buffer.subarray(at, start + length), value: buffer.subarray(start, start + length), end: start + length };
}

function elements(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < value.length;) {
    const element = readTlv(value, at);
    if (element === null) throw new Error('truncated BER element');
    out.push(element);
    at = element.end;
  }
  return out;
}

function encode(tag: number, value: Buffer): Buffer {
  if (value.length < 0x80) return Buffer.concat([Buffer.from([tag, value.length]), value]);
  const length: number[] = [];
  for (let n = value.length; n > 0; n = Math.floor(n / 256)) length.unshift(n % 256);
  return Buffer.concat([Buffer.from([tag, 0x80 | length.length, ...length]), value]);
}

/** The LDAPMessage with its search request's attribute list renamed; any other message (or no change) as it is. */
export function rewriteSearchAttributes(message: Buffer, rename: (description: string) => string): Buffer {
  const outer = readTlv(message, 0);
  if (outer === null || outer.tag !== SEQUENCE) return message;
  const [id, operation, ...controls] = elements(outer.value);
  if (id === undefined || operation?.tag !== SEARCH_REQUEST) return message;
  const fields = elements(operation.value);
  const list = fields.at(-1);
  if (list?.tag !== SEQUENCE) return message;
  const names = elements(list.value).map((n) => n.value.toString('utf8'));
  const renamed = names.map(rename);
  if (renamed.every((name, i) => name === names[i])) return message;
  const attributes = encode(SEQUENCE, Buffer.concat(renamed.map((name) => encode(OCTET_STRING, Buffer.from(name, 'utf8')))));
  const search = encode(SEARCH_REQUEST, Buffer.concat([...fields.slice(0, -1).map((f) => f.raw), attributes]));
  return encode(SEQUENCE, Buffer.concat([id.raw, search, ...controls.map((c) => c.raw)]));
}

/** Samba's plain LDAP port on the host of the stack's AD URL (the stack allows simple binds without TLS there). */
export function sambaPlainLdap(adUrl: string): { host: string; port: number } {
  return { host: new URL(adUrl).hostname, port: 389 };
}
