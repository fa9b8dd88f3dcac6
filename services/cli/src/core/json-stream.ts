/**
 * The text of `JSON.stringify({ ...head, [name]: items }, null, 2)`, in pieces: the items are produced one at a time
 * (read back from a file), so a long list is never held whole, and the output is the same to the byte.
 */
export function* jsonWithList(head: object, name: string, items: Iterable<unknown>): Generator<string> {
  const opening = JSON.stringify(head, null, 2);
  // '{}' for an empty head, else '{\n  ...\n}': the list goes where the closing brace was.
  yield opening === '{}' ? '{\n' : `${opening.slice(0, -2)},\n`;
  yield `  ${JSON.stringify(name)}: [`;
  let first = true;
  for (const item of items) {
    // JSON text holds no raw newline inside a string: every newline starts a line to indent.
    yield `${first ? '\n' : ',\n'}    ${(JSON.stringify(item, null, 2) ?? 'null').replace(/\n/g, '\n    ')}`;
    first = false;
  }
  yield first ? ']\n}' : '\n  ]\n}';
}
