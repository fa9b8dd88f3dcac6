/**
 * Values AD chooses itself (pure). `pwdLastSet` is written as 0 ("must change at next logon") or -1 ("not expired"),
 * and AD turns -1 into the current time: it never reads back as -1. A password set changes it too.
 */
import { type AttributeChange, type AttributeValue } from '@idsync/contracts';
import { attributeKey } from './attributes';

export const PWD_LAST_SET = 'pwdLastSet';
const PWD_LAST_SET_KEY = attributeKey(PWD_LAST_SET);

/** Whether a change writes pwdLastSet -1, whose value in AD is the time of the write. */
export function setsPwdLastSetNow(change: Pick<AttributeChange, 'name' | 'op' | 'values'>): boolean {
  return attributeKey(change.name) === PWD_LAST_SET_KEY && change.op === 'replace' && change.values.length === 1 && String(change.values[0]).trim() === '-1';
}

/**
 * Whether an AD entry already is what a change asks, where AD reads back otherwise: pwdLastSet -1 asks "not
 * must-change", which any set value other than 0 already is (writing it again would restart the password's age).
 */
export function alreadyInAd(change: AttributeChange, current: readonly AttributeValue[]): boolean {
  if (!setsPwdLastSetNow(change)) return false;
  return current.length === 1 && String(current[0]).trim() !== '0' && String(current[0]).trim() !== '';
}

const UAC_KEY = attributeKey('userAccountControl');
const ACCOUNTDISABLE = 2n;
const PASSWD_NOTREQD = 32n;

const asInteger = (value: AttributeValue | undefined): bigint | null => {
  const text = value === undefined ? '' : String(value).trim();
  return /^-?\d+$/.test(text) ? BigInt(text) : null;
};

/**
 * Whether a change would enable an AD account that needs no password (PASSWD_NOTREQD, as the ad-writer creates an
 * account before its password arrives: 546): one that anybody could then log on to with an empty password. Such an
 * account is enabled only together with its first password (plan.ts), never by a lock's bit alone.
 */
export function enablesWithoutPassword(change: AttributeChange, current: readonly AttributeValue[]): boolean {
  if (attributeKey(change.name) !== UAC_KEY || change.op !== 'replace' || change.values.length !== 1) return false;
  const have = asInteger(current[0]);
  const wanted = asInteger(change.values[0]);
  if (have === null || wanted === null) return false;
  return (have & ACCOUNTDISABLE) !== 0n && (wanted & ACCOUNTDISABLE) === 0n && (wanted & PASSWD_NOTREQD) !== 0n;
}
