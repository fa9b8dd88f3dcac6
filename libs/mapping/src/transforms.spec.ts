import fc from 'fast-check';
import { applyTransforms, mergeBits, readTime, TransformError, type TransformStep, writeTime } from './transforms';

const bitTest = (mask: bigint, set: string[], clear: string[]): TransformStep => ({ kind: 'bitTest', mask, set, clear });
const time = (from: 'filetime' | 'generalizedTime' | 'epochSeconds' | 'epochMillis', to: typeof from, never: string | null = null): TransformStep => ({ kind: 'time', from, to, never });

describe('bit transforms', () => {
  it('tells a disabled account (userAccountControl 514) from an enabled one (512)', () => {
    const disabled = bitTest(2n, ['TRUE'], []);
    expect(applyTransforms([disabled], ['514'])).toEqual(['TRUE']);
    expect(applyTransforms([disabled], ['512'])).toEqual([]);
    expect(applyTransforms([disabled], ['66050'])).toEqual(['TRUE']); // disabled, password never expires
  });

  it('needs every bit of the mask for a set result', () => {
    expect(applyTransforms([bitTest(0x12n, ['both'], ['not both'])], ['2'])).toEqual(['not both']);
    expect(applyTransforms([bitTest(0x12n, ['both'], ['not both'])], ['18'])).toEqual(['both']);
  });

  it('sets and clears bits and leaves the others', () => {
    expect(applyTransforms([{ kind: 'setBits', mask: 2n }], ['512'])).toEqual(['514']);
    expect(applyTransforms([{ kind: 'clearBits', mask: 2n }], ['66050'])).toEqual(['66048']);
  });

  it('refuses a value that is not an integer, without quoting it', () => {
    const attempt = (): string[] => applyTransforms([bitTest(2n, ['TRUE'], [])], ['jane.doe@example.com']);
    expect(attempt).toThrow(TransformError);
    expect(attempt).toThrow(/not an integer \(20 characters\)/);
    expect(attempt).not.toThrow(/jane/);
  });

  it('property: a bit set is then tested set, a bit cleared tested clear, other bits untouched', () => {
    const uac = fc.bigInt({ min: 0n, max: 0xffff_ffffn });
    const bit = fc.integer({ min: 0, max: 31 }).map((n) => 1n << BigInt(n));
    fc.assert(
      fc.property(uac, bit, (value, mask) => {
        const [set] = applyTransforms([{ kind: 'setBits', mask }], [String(value)]);
        const [cleared] = applyTransforms([{ kind: 'clearBits', mask }], [String(value)]);
        expect(applyTransforms([bitTest(mask, ['on'], ['off'])], [set as string])).toEqual(['on']);
        expect(applyTransforms([bitTest(mask, ['on'], ['off'])], [cleared as string])).toEqual(['off']);
        expect(BigInt(set as string) & ~mask).toBe(value & ~mask);
        expect(BigInt(cleared as string) & ~mask).toBe(value & ~mask);
      }),
    );
  });

  it('property: mergeBits takes only the mask from what is wanted', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffff_ffffn }), fc.bigInt({ min: 0n, max: 0xffff_ffffn }), fc.bigInt({ min: 0n, max: 0xffff_ffffn }), (current, mask, wanted) => {
        const merged = BigInt(mergeBits(String(current), mask, wanted));
        expect(merged & mask).toBe(wanted & mask);
        expect(merged & ~mask).toBe(current & ~mask);
      }),
    );
    expect(mergeBits(null, 2n, 2n)).toBe('2');
  });
});

describe('time transforms', () => {
  it('turns accountExpires into a generalized time, and AD\u2019s two "never" values into no value', () => {
    // 2027-01-31T00:00:00Z
    expect(applyTransforms([time('filetime', 'generalizedTime')], ['134458272000000000'])).toEqual(['20270131000000Z']);
    expect(applyTransforms([time('filetime', 'generalizedTime')], ['0'])).toEqual([]);
    expect(applyTransforms([time('filetime', 'generalizedTime')], ['9223372036854775807'])).toEqual([]);
  });

  it('writes "never" for no value when told (a directory expiry removed: accountExpires back to never)', () => {
    expect(applyTransforms([time('generalizedTime', 'filetime', '9223372036854775807')], [])).toEqual(['9223372036854775807']);
    expect(applyTransforms([time('generalizedTime', 'filetime')], [])).toEqual([]);
    expect(applyTransforms([time('generalizedTime', 'filetime', '0')], ['20270131000000Z'])).toEqual(['134458272000000000']);
  });

  it('reads generalized times with offsets, fractions and without seconds', () => {
    expect(readTime('20270131010000+0100', 'generalizedTime')).toBe(readTime('20270131000000Z', 'generalizedTime'));
    expect(readTime('202701310000Z', 'generalizedTime')).toBe(readTime('20270131000000Z', 'generalizedTime'));
    expect(writeTime(readTime('20270131000000.5Z', 'generalizedTime') as bigint, 'generalizedTime')).toBe('20270131000000.500Z');
    expect(applyTransforms([time('generalizedTime', 'epochSeconds')], ['19700101000000Z'])).toEqual(['0']);
    expect(applyTransforms([time('epochMillis', 'generalizedTime')], ['-1'])).toEqual(['19691231235959.999Z']);
  });

  it('refuses times that name no moment', () => {
    for (const bad of ['20270230000000Z', '20271301000000Z', '2027013100000Z', 'tomorrow', '20270131000000']) {
      expect(() => readTime(bad, 'generalizedTime')).toThrow(TransformError);
    }
    expect(() => readTime('-5', 'filetime')).toThrow(/out of range/);
    expect(readTime('20240229000000Z', 'generalizedTime')).toBe(1_709_164_800_000n);
    expect(() => readTime('20230229000000Z', 'generalizedTime')).toThrow(TransformError);
  });

  // FILETIME ticks of whole milliseconds between 1601 and 9999 (what a generalized time holds).
  const filetimeMs = fc.bigInt({ min: 1n, max: 265_046_774_399_999n }).map((ms) => String(ms * 10_000n));
  const unixMs = fc.bigInt({ min: -11_644_473_599_999n, max: 253_402_300_799_999n });

  it('property: FILETIME -> generalized time -> FILETIME is the identity (whole milliseconds)', () => {
    fc.assert(
      fc.property(filetimeMs, (ticks) => {
        expect(applyTransforms([time('filetime', 'generalizedTime'), time('generalizedTime', 'filetime')], [ticks])).toEqual([ticks]);
      }),
    );
  });

  it('property: generalized time -> FILETIME -> generalized time, and via epoch milliseconds, is the identity', () => {
    fc.assert(
      fc.property(unixMs, (ms) => {
        const text = writeTime(ms, 'generalizedTime');
        expect(applyTransforms([time('generalizedTime', 'filetime'), time('filetime', 'generalizedTime')], [text])).toEqual([text]);
        expect(applyTransforms([time('generalizedTime', 'epochMillis'), time('epochMillis', 'generalizedTime')], [text])).toEqual([text]);
        expect(readTime(text, 'generalizedTime')).toBe(ms);
      }),
    );
  });

  it('property: epoch seconds round-trip through every format', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -11_644_473_599n, max: 253_402_300_799n }), (seconds) => {
        const steps = [time('epochSeconds', 'filetime'), time('filetime', 'generalizedTime'), time('generalizedTime', 'epochMillis'), time('epochMillis', 'epochSeconds')];
        expect(applyTransforms(steps, [String(seconds)])).toEqual([String(seconds)]);
      }),
    );
  });
});

describe('text transforms', () => {
  it('changes case', () => {
    expect(applyTransforms([{ kind: 'case', to: 'lower' }], ['Jane.Doe@Example.COM'])).toEqual(['jane.doe@example.com']);
    expect(applyTransforms([{ kind: 'case', to: 'upper' }], ['ab', 'cD'])).toEqual(['AB', 'CD']);
  });

  it('replaces every match of a regular expression, with groups', () => {
    const step: TransformStep = { kind: 'replace', pattern: /^(.*)@old\.example$/gi, with: '$1@new.example' };
    expect(applyTransforms([step], ['jane@OLD.example', 'joe@other.example'])).toEqual(['jane@new.example', 'joe@other.example']);
  });

  it('maps values through a table, with keep, drop or a default for the rest', () => {
    const table = new Map([
      ['512', 'enabled'],
      ['514', 'disabled'],
    ]);
    expect(applyTransforms([{ kind: 'map', table, otherwise: 'keep' }], ['512', '514', '66048'])).toEqual(['enabled', 'disabled', '66048']);
    expect(applyTransforms([{ kind: 'map', table, otherwise: 'drop' }], ['512', '66048'])).toEqual(['enabled']);
    expect(applyTransforms([{ kind: 'map', table, otherwise: { value: 'other' } }], ['66048'])).toEqual(['other']);
  });

  it('joins and splits multi-valued attributes, and keeps the first value', () => {
    expect(applyTransforms([{ kind: 'join', separator: ', ' }], ['a', 'b'])).toEqual(['a, b']);
    expect(applyTransforms([{ kind: 'join', separator: ', ' }], [])).toEqual([]);
    expect(applyTransforms([{ kind: 'split', separator: ',' }], ['a,b,,c'])).toEqual(['a', 'b', 'c']);
    expect(applyTransforms([{ kind: 'first' }], ['x', 'y'])).toEqual(['x']);
    expect(applyTransforms([{ kind: 'first' }], [])).toEqual([]);
  });

  it('property: split after join gives the values back when none holds the separator', () => {
    const value = fc.string({ minLength: 1 }).filter((s) => !s.includes(';'));
    fc.assert(
      fc.property(fc.array(value), (values) => {
        expect(
          applyTransforms(
            [
              { kind: 'join', separator: ';' },
              { kind: 'split', separator: ';' },
            ],
            values,
          ),
        ).toEqual(values);
      }),
    );
  });

  it('applies steps in order', () => {
    const steps: TransformStep[] = [{ kind: 'split', separator: ' ' }, { kind: 'first' }, { kind: 'case', to: 'upper' }];
    expect(applyTransforms(steps, ['jane doe'])).toEqual(['JANE']);
  });
});
