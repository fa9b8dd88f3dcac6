import { checkKey } from './envelope';

/** One AES-256 key: its id (written into every envelope it seals) and its 32 bytes. */
export interface PasswordKey {
  readonly id: string;
  readonly bytes: Buffer;
}

export interface KeyringOptions {
  /** Id of the key that seals new envelopes; must be one of `keys`. */
  readonly current: string;
  /** Every key that may still open envelopes (the current one and those being rotated out). */
  readonly keys: readonly PasswordKey[];
}

/**
 * The keys of one component: one current key for sealing, several for opening (rotation: add the new key
 * everywhere, then make it current on the sealing side, then drop the old one once no record needs it).
 * Key bytes are never shown: `toJSON` and `inspect` list the ids only.
 */
export class Keyring {
  private readonly byId: ReadonlyMap<string, PasswordKey>;
  readonly current: PasswordKey;

  constructor(options: KeyringOptions) {
    const byId = new Map<string, PasswordKey>();
    for (const key of options.keys) {
      checkKey(key);
      if (byId.has(key.id)) throw new RangeError(`password key id '${key.id}' appears twice`);
      byId.set(key.id, { id: key.id, bytes: Buffer.from(key.bytes) });
    }
    const current = byId.get(options.current);
    if (current === undefined) throw new RangeError(`the current password key '${options.current}' is not among the keys (${[...byId.keys()].join(', ') || 'none'})`);
    this.byId = byId;
    this.current = current;
  }

  get(id: string): PasswordKey | undefined {
    return this.byId.get(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  toJSON(): { current: string; keys: string[] } {
    return { current: this.current.id, keys: this.ids() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Keyring(current=${this.current.id}, keys=${this.ids().join(',')})`;
  }
}
