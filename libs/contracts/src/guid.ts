const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` is a UUID in 8-4-4-4-12 hex form (any case): safe to put into a `<GUID=…>` DN or a filter. */
export function isUuidText(text: string): boolean {
  return GUID_TEXT.test(text);
}

/** AD stores Data1 (4 bytes), Data2 and Data3 (2 bytes each) little-endian; the last 8 bytes are in text order. */
function swapMixedEndian(bytes: Buffer): Buffer {
  const swapped = Buffer.from(bytes);
  swapped.subarray(0, 4).swap32();
  swapped.subarray(4, 6).swap16();
  swapped.subarray(6, 8).swap16();
  return swapped;
}

/** AD objectGUID bytes to canonical text, as Windows prints it: lower-case, hyphenated, no braces. */
export function canonicalGuid(bytes: Buffer): string {
  if (bytes.length !== 16) throw new RangeError(`objectGUID must be 16 bytes, got ${bytes.length}`);
  const hex = swapMixedEndian(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** GUID text (any case) to the 16 bytes AD stores in objectGUID, e.g. for an `(objectGUID=...)` filter value. */
export function guidToBytes(text: string): Buffer {
  if (!GUID_TEXT.test(text)) throw new RangeError(`not a GUID in 8-4-4-4-12 hex form: ${JSON.stringify(text)}`);
  return swapMixedEndian(Buffer.from(text.replaceAll('-', ''), 'hex'));
}

const UUID_HEX = /^[0-9a-f]{32}$/;

/** UUID text (entryUUID; any case, hyphens or none) to the canonical lower-case hyphenated form; throws on anything else. */
export function canonicalUuid(text: string): string {
  const hex = text.trim().toLowerCase().replaceAll('-', '');
  if (!UUID_HEX.test(hex)) throw new RangeError(`not a UUID: ${JSON.stringify(text.slice(0, 60))}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
