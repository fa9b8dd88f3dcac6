import { type ChangelogRecord } from './changelog-entry';

/**
 * Object classes last seen per entryUUID (bounded, oldest forgotten first). A modify or rename does not carry
 * objectClass and the entry may be gone by the time the detector reads it back; what an earlier add, delete or
 * read showed is then the best knowledge. A modify that touches objectClass forgets the entry (it is read again).
 */
export class ObjectClassMemory {
  private readonly classes = new Map<string, readonly string[]>();

  constructor(private readonly capacity = 10_000) {}

  remember(entryUuid: string, objectClasses: readonly string[]): void {
    if (objectClasses.length === 0) return;
    this.classes.delete(entryUuid);
    this.classes.set(entryUuid, objectClasses);
    if (this.classes.size > this.capacity) {
      const oldest = this.classes.keys().next().value;
      if (oldest !== undefined) this.classes.delete(oldest);
    }
  }

  recall(entryUuid: string): readonly string[] | null {
    return this.classes.get(entryUuid) ?? null;
  }

  /** Learns from a batch in change-number order; returns, per record, the classes it is known to have had. */
  learn(records: readonly ChangelogRecord[]): Map<ChangelogRecord, readonly string[]> {
    const known = new Map<ChangelogRecord, readonly string[]>();
    for (const record of records) {
      if (record.entryUuid === null) continue;
      if (record.objectClasses !== null) {
        this.remember(record.entryUuid, record.objectClasses);
        known.set(record, record.objectClasses);
        continue;
      }
      if (record.attributes.some((a) => a.name.toLowerCase() === 'objectclass')) {
        this.classes.delete(record.entryUuid);
        continue;
      }
      const recalled = this.recall(record.entryUuid);
      if (recalled) known.set(record, recalled);
    }
    return known;
  }
}
