/**
 * Text with `{placeholders}`: `{givenName} {sn}` (attribute values) and, in DN patterns, `{1}` (wildcard matches).
 * Write `{{` and `}}` for literal braces.
 */

export interface TextPart {
  readonly kind: 'text';
  readonly text: string;
}

export interface AttributePart {
  readonly kind: 'attribute';
  /** As written in the template. */
  readonly name: string;
  /** Lower-case, for look-ups. */
  readonly key: string;
}

export interface CapturePart {
  readonly kind: 'capture';
  /** 1-based wildcard number. */
  readonly index: number;
}

export type PlaceholderPart = AttributePart | CapturePart;
export type TemplatePart = TextPart | PlaceholderPart;

export interface Template {
  readonly text: string;
  readonly parts: readonly TemplatePart[];
  /** Lower-case names of the attributes the template reads, each once, in order of appearance. */
  readonly attributes: readonly string[];
}

export interface TemplateOptions {
  /** Accept `{1}`, `{2}`... (DN patterns); otherwise only attribute names. */
  readonly captures?: boolean;
}

export class InvalidTemplateError extends Error {
  readonly retriable = false as const;

  constructor(
    readonly template: string,
    readonly problem: string,
  ) {
    super(`invalid template '${template}': ${problem}`);
    this.name = 'InvalidTemplateError';
  }
}

export const ATTRIBUTE_NAME = /^(?:[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+)(?:;[A-Za-z0-9-]+)*$/;
const CAPTURE = /^[1-9][0-9]*$/;

export function parseTemplate(text: string, options: TemplateOptions = {}): Template {
  const parts: TemplatePart[] = [];
  const attributes: string[] = [];
  let literal = '';
  let k = 0;
  while (k < text.length) {
    const c = text[k] as string;
    if (c === '{' && text[k + 1] === '{') {
      literal += '{';
      k += 2;
    } else if (c === '}' && text[k + 1] === '}') {
      literal += '}';
      k += 2;
    } else if (c === '}') {
      throw new InvalidTemplateError(text, `unmatched '}' at character ${k + 1} (write '}}' for a literal brace)`);
    } else if (c === '{') {
      const end = text.indexOf('}', k + 1);
      if (end < 0) throw new InvalidTemplateError(text, `unclosed '{' at character ${k + 1}`);
      const name = text.slice(k + 1, end).trim();
      if (literal) parts.push({ kind: 'text', text: literal });
      literal = '';
      if (CAPTURE.test(name)) {
        if (!options.captures) {
          throw new InvalidTemplateError(text, `'{${name}}' is a wildcard reference, which only a DN map's 'to' pattern may use`);
        }
        parts.push({ kind: 'capture', index: Number(name) });
      } else if (ATTRIBUTE_NAME.test(name)) {
        const key = name.toLowerCase();
        parts.push({ kind: 'attribute', name, key });
        if (!attributes.includes(key)) attributes.push(key);
      } else {
        throw new InvalidTemplateError(text, `'{${name}}' is not ${options.captures ? 'a wildcard number or ' : ''}an attribute name`);
      }
      k = end + 1;
    } else {
      literal += c;
      k++;
    }
  }
  if (literal) parts.push({ kind: 'text', text: literal });
  return { text, parts, attributes };
}

export function hasPlaceholders(template: Template): boolean {
  return template.parts.some((part) => part.kind !== 'text');
}

/** Fills the placeholders; null when `resolve` returns null for one of them. */
export function renderTemplate(template: Template, resolve: (part: PlaceholderPart) => string | null): string | null {
  const parts = template.parts;
  if (parts.length === 1 && parts[0]?.kind === 'text') return parts[0].text;
  let out = '';
  for (const part of parts) {
    if (part.kind === 'text') out += part.text;
    else {
      const value = resolve(part);
      if (value === null) return null;
      out += value;
    }
  }
  return out;
}
