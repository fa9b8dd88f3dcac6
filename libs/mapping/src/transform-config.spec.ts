import YAML from 'yaml';
import { transformsSchema } from './transform-config';
import { applyTransforms } from './transforms';

const parse = (yaml: string) => transformsSchema.safeParse(YAML.parse(yaml));
const messages = (yaml: string): string[] => {
  const result = parse(yaml);
  if (result.success) throw new Error('expected a validation error');
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('transforms in the configuration', () => {
  it('compiles every step of the vocabulary', () => {
    const result = parse(`
      - { bitTest: 0x2, set: "TRUE" }
      - { setBits: 2 }
      - { clearBits: "0x10" }
      - { time: { from: filetime, to: generalizedTime, never: "0" } }
      - { case: lower }
      - { replace: { pattern: "^(.*)@old$", with: "$1@new", flags: i } }
      - { map: { "512": enabled }, defaultValue: other }
      - { join: ", " }
      - { split: "," }
      - { first: true }
    `);
    expect(result.success).toBe(true);
    expect(result.data?.map((step) => step.kind)).toEqual(['bitTest', 'setBits', 'clearBits', 'time', 'case', 'replace', 'map', 'join', 'split', 'first']);
  });

  it('gives a bit test no value for the other case unless told', () => {
    const steps = transformsSchema.parse([{ bitTest: 2, set: 'TRUE' }]);
    expect(applyTransforms(steps, ['514'])).toEqual(['TRUE']);
    expect(applyTransforms(steps, ['512'])).toEqual([]);
  });

  it('replaces every match, case-insensitively when asked', () => {
    const steps = transformsSchema.parse([{ replace: { pattern: 'a', with: 'b', flags: 'i' } }]);
    expect(applyTransforms(steps, ['AaA'])).toEqual(['bbb']);
  });

  it('maps with keep by default, drop or a default value', () => {
    expect(applyTransforms(transformsSchema.parse([{ map: { x: 'y' } }]), ['x', 'z'])).toEqual(['y', 'z']);
    expect(applyTransforms(transformsSchema.parse([{ map: { x: 'y' }, default: 'drop' }]), ['x', 'z'])).toEqual(['y']);
    expect(applyTransforms(transformsSchema.parse([{ map: { x: 'y' }, defaultValue: '?' }]), ['z'])).toEqual(['?']);
  });

  it('names what is wrong with each bad step', () => {
    expect(messages('[{ bitTest: 0 }]')).toEqual(['0.bitTest: bitTest: must be a non-zero bit mask (decimal or 0x hex), got 0']);
    expect(messages('[{ bitTest: "two" }]')[0]).toMatch(/must be a non-zero bit mask/);
    expect(messages('[{ time: { from: filetime, to: iso } }]')[0]).toMatch(/^0\.time\.to: time: /);
    expect(messages('[{ time: { from: filetime, to: filetime } }]')[0]).toMatch(/same format/);
    expect(messages('[{ replace: { pattern: "(", with: "" } }]')[0]).toMatch(/^0\.replace: pattern does not compile/);
    expect(messages('[{ replace: { pattern: "a", with: "", flags: g } }]')[0]).toMatch(/may hold only i, m, s and u/);
    expect(messages('[{ lowercase: true }]')[0]).toMatch(/is not a transform: expected one of bitTest, setBits/);
    expect(messages('[{ join: ",", split: "," }]')[0]).toMatch(/names several transforms \(join, split\)/);
    expect(messages('[{ split: "" }]')[0]).toMatch(/needs a separator/);
    expect(messages('[{ map: { a: b }, default: keep, defaultValue: c }]')[0]).toMatch(/not both/);
    expect(messages('[{ first: true, extra: 1 }]')[0]).toMatch(/first: .*extra/i);
    expect(messages('[]')[0]).toMatch(/at least one step/);
  });
});
