/** A position in a draft-good-changelog (cn=changelog): a non-negative integer, never passed around bare. */
export class ChangeNumber {
  /** "Nothing read yet": the position before change number 1. */
  static readonly ZERO = new ChangeNumber(0);

  private constructor(private readonly value: number) {}

  /** Parses the decimal text the server (or a stored checkpoint) gives; throws InvalidChangeNumberError. */
  static parse(text: string): ChangeNumber {
    const trimmed = text.trim();
    if (!/^\d{1,15}$/.test(trimmed)) throw new InvalidChangeNumberError(text);
    return new ChangeNumber(Number(trimmed));
  }

  format(): string {
    return String(this.value);
  }

  compare(other: ChangeNumber): -1 | 0 | 1 {
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  isBefore(other: ChangeNumber): boolean {
    return this.value < other.value;
  }

  isAfter(other: ChangeNumber): boolean {
    return this.value > other.value;
  }

  equals(other: ChangeNumber): boolean {
    return this.value === other.value;
  }

  next(): ChangeNumber {
    return new ChangeNumber(this.value + 1);
  }

  /** The change number `count` positions later. */
  plus(count: number): ChangeNumber {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`ChangeNumber.plus needs a non-negative integer, got ${count}`);
    return new ChangeNumber(this.value + count);
  }

  /** The change number before this one; ZERO stays ZERO. */
  previous(): ChangeNumber {
    return this.value === 0 ? this : new ChangeNumber(this.value - 1);
  }

  /** How many change numbers lie after `from` up to this one (0 when this is not after `from`). */
  distanceFrom(from: ChangeNumber): number {
    return Math.max(0, this.value - from.value);
  }

  static max(a: ChangeNumber, b: ChangeNumber): ChangeNumber {
    return a.isBefore(b) ? b : a;
  }

  static min(a: ChangeNumber, b: ChangeNumber): ChangeNumber {
    return a.isBefore(b) ? a : b;
  }

  toString(): string {
    return this.format();
  }

  toJSON(): string {
    return this.format();
  }
}

export class InvalidChangeNumberError extends Error {
  readonly retriable = false;
  constructor(readonly text: string) {
    super(`not a change number: ${JSON.stringify(text.slice(0, 40))}`);
    this.name = 'InvalidChangeNumberError';
  }
}
