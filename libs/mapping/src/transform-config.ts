/**
 * The `transforms` of an attribute mapping as written in the configuration (one key per step, see transforms.ts),
 * validated and compiled at start: a bad mask, an unknown time format, a regular expression that does not compile
 * stop the service with the step's path, before anything connects.
 */
import { z } from 'zod';
import { TIME_FORMATS, type TransformStep } from './transforms';

/** A bit mask: a non-negative integer, in decimal or 0x hex (YAML gives numbers, quoted text stays text). */
const mask = z.union([z.number(), z.string()]).transform((raw, ctx): bigint => {
  const text = String(raw).trim();
  if (!/^(0x[0-9a-f]{1,16}|\d{1,20})$/i.test(text) || BigInt(text) === 0n) {
    ctx.addIssue({ code: 'custom', message: `must be a non-zero bit mask (decimal or 0x hex), got ${JSON.stringify(raw)}` });
    return z.NEVER;
  }
  return BigInt(text);
});

/** One value, several, or none (`[]`): what a bit test gives. */
const resultValues = z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? [v] : v));

const REGEX_FLAGS = /^[imsu]*$/;

const stepSchemas = {
  bitTest: z.object({ bitTest: mask, set: resultValues.default([]), clear: resultValues.default([]) }).strict(),
  setBits: z.object({ setBits: mask }).strict(),
  clearBits: z.object({ clearBits: mask }).strict(),
  time: z
    .object({
      time: z
        .object({ from: z.enum(TIME_FORMATS), to: z.enum(TIME_FORMATS), never: z.string().optional() })
        .strict()
        .refine((t) => t.from !== t.to, { error: 'from and to are the same format' }),
    })
    .strict(),
  case: z.object({ case: z.enum(['lower', 'upper']) }).strict(),
  replace: z
    .object({
      replace: z.object({ pattern: z.string().min(1), with: z.string(), flags: z.string().regex(REGEX_FLAGS, 'may hold only i, m, s and u').optional() }).strict(),
    })
    .strict(),
  map: z
    .object({
      map: z.record(z.string(), z.string()),
      default: z.enum(['keep', 'drop']).optional(),
      defaultValue: z.string().optional(),
    })
    .strict()
    .refine((m) => m.default === undefined || m.defaultValue === undefined, { error: 'give default (keep or drop) or defaultValue, not both' }),
  join: z.object({ join: z.string() }).strict(),
  split: z.object({ split: z.string().min(1, 'needs a separator') }).strict(),
  first: z.object({ first: z.literal(true) }).strict(),
} as const;

type StepName = keyof typeof stepSchemas;
const STEP_NAMES = Object.keys(stepSchemas) as StepName[];

/** One step: which one it is follows from its keys; the error names the step it was taken for. */
export const transformStepSchema = z.record(z.string(), z.unknown()).transform((raw, ctx): TransformStep => {
  const named = STEP_NAMES.filter((name) => name in raw);
  if (named.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: named.length === 0 ? `is not a transform: expected one of ${STEP_NAMES.join(', ')}` : `names several transforms (${named.join(', ')}): one per step`,
    });
    return z.NEVER;
  }
  const name = named[0] as StepName;
  const parsed = stepSchemas[name].safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: `${name}: ${issue.message}` });
    return z.NEVER;
  }
  const step = compileStep(name, parsed.data);
  if (typeof step === 'string') {
    ctx.addIssue({ code: 'custom', path: [name], message: step });
    return z.NEVER;
  }
  return step;
});

export const transformsSchema = z.array(transformStepSchema).min(1, 'needs at least one step');

/** The step, or why it cannot be one. */
function compileStep(name: StepName, data: Record<string, unknown>): TransformStep | string {
  switch (name) {
    case 'bitTest': {
      const d = data as z.output<(typeof stepSchemas)['bitTest']>;
      return { kind: 'bitTest', mask: d.bitTest, set: d.set, clear: d.clear };
    }
    case 'setBits':
      return { kind: 'setBits', mask: (data as z.output<(typeof stepSchemas)['setBits']>).setBits };
    case 'clearBits':
      return { kind: 'clearBits', mask: (data as z.output<(typeof stepSchemas)['clearBits']>).clearBits };
    case 'time': {
      const { time } = data as z.output<(typeof stepSchemas)['time']>;
      return { kind: 'time', from: time.from, to: time.to, never: time.never ?? null };
    }
    case 'case':
      return { kind: 'case', to: (data as z.output<(typeof stepSchemas)['case']>).case };
    case 'replace': {
      const { replace } = data as z.output<(typeof stepSchemas)['replace']>;
      try {
        return { kind: 'replace', pattern: new RegExp(replace.pattern, `g${replace.flags ?? ''}`), with: replace.with };
      } catch (error) {
        return `pattern does not compile: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    case 'map': {
      const d = data as z.output<(typeof stepSchemas)['map']>;
      const otherwise = d.defaultValue !== undefined ? { value: d.defaultValue } : (d.default ?? 'keep');
      return { kind: 'map', table: new Map(Object.entries(d.map)), otherwise };
    }
    case 'join':
      return { kind: 'join', separator: (data as z.output<(typeof stepSchemas)['join']>).join };
    case 'split':
      return { kind: 'split', separator: (data as z.output<(typeof stepSchemas)['split']>).split };
    case 'first':
      return { kind: 'first' };
  }
}
