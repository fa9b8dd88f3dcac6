import { InvalidTemplateError, parseTemplate, renderTemplate } from './template';

describe('templates', () => {
  it('splits text and attribute placeholders and lists the attributes once, lower-cased', () => {
    const template = parseTemplate('{givenName} {sn} ({givenName})');
    expect(template.attributes).toEqual(['givenname', 'sn']);
    expect(template.parts.map((part) => part.kind)).toEqual(['attribute', 'text', 'attribute', 'text', 'attribute', 'text']);
  });

  it('renders with the resolved values, or null when one is missing', () => {
    const template = parseTemplate('{givenName} {sn}');
    const values: Record<string, string> = { givenname: 'Jane', sn: 'Doe' };
    expect(renderTemplate(template, (part) => (part.kind === 'attribute' ? (values[part.key] ?? null) : null))).toBe('Jane Doe');
    expect(renderTemplate(template, (part) => (part.kind === 'attribute' && part.key === 'sn' ? 'Doe' : null))).toBeNull();
  });

  it('reads {{ and }} as literal braces', () => {
    expect(renderTemplate(parseTemplate('{{x}}'), () => null)).toBe('{x}');
  });

  it('accepts wildcard numbers only where captures are allowed', () => {
    expect(parseTemplate('{1}', { captures: true }).parts).toEqual([{ kind: 'capture', index: 1 }]);
    expect(() => parseTemplate('{1}')).toThrow("only a DN map's 'to' pattern may use");
  });

  it.each([
    ['{sn', 'unclosed'],
    ['sn}', "unmatched '}'"],
    ['{}', 'is not an attribute name'],
    ['{given name}', 'is not an attribute name'],
  ])('rejects %j', (text, problem) => {
    expect(() => parseTemplate(text)).toThrow(InvalidTemplateError);
    expect(() => parseTemplate(text)).toThrow(problem);
  });
});
