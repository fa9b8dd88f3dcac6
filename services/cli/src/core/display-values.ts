import { type AttributeValue } from '@idsync/contracts';
import { isPasswordAttribute } from '@idsync/mapping';

/** How the toolbox shows attribute values to people: never a password, bytes as their size. */

/** Attributes whose values are never shown: the mapping's password attributes and 389-ds' changelog clear text. */
export const MASKED_ATTRIBUTES = ['idsyncPassword', 'unicodePwd', 'userPassword', 'unhashed#user#password'] as const;
const MASKED_KEYS: ReadonlySet<string> = new Set(MASKED_ATTRIBUTES.map((name) => name.toLowerCase()));

export function isMaskedAttribute(name: string): boolean {
  return isPasswordAttribute(name) || MASKED_KEYS.has(name.toLowerCase().split(';')[0] ?? '');
}

export const MASK = '***';

/** Values as shown: passwords as ***, binary values (and text with control characters) as `<N bytes>`. */
export function displayValues(name: string, values: readonly AttributeValue[]): string[] {
  if (isMaskedAttribute(name)) return values.map(() => MASK);
  return values.map((value) => {
    if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
    // eslint-disable-next-line no-control-regex -- control characters (but tab, line feed, carriage return) make a value binary
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value) ? `<${Buffer.byteLength(value, 'utf8')} bytes>` : value;
  });
}
