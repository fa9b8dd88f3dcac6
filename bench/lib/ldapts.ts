// ldapts as the packages load it. ldapts ships a CommonJS and an ES module build; `import ... from 'ldapts'` here
// would load the second, whose classes are not those of the first, which @idsync/platform's clients come from (a
// Change built from one build, handed to a client of the other, only works because ldapts does not check). Loading
// the CommonJS build gives the benches the very classes (and types) the packages use.
import { createRequire } from 'node:module';
import type * as Ldapts from 'ldapts' with { 'resolution-mode': 'require' };

export const { Attribute, Change, EqualityFilter } = createRequire(import.meta.url)('ldapts') as typeof Ldapts;
export type Attribute = Ldapts.Attribute;
export type Change = Ldapts.Change;
export type Client = Ldapts.Client;
export type EqualityFilter = Ldapts.EqualityFilter;
