// @ts-check
/**
 * Names the two entry points as users import them, `striate` and
 * `striate/node`, instead of TypeDoc's guess from the file names (`index`,
 * `node`). TypeDoc's own way, an `@module` tag in each entry file, would put
 * documentation-tool syntax at the top of the library's sources.
 */
import { Converter, ReflectionKind } from 'typedoc';

/** Entry file name (without extension) → the specifier a user imports. */
const names = { index: 'striate', node: 'striate/node' };

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const name = names[/** @type {keyof typeof names} */ (module.name)];
      if (name === undefined) {
        throw new Error(`entry-names: unexpected entry point '${module.name}'; expected one of ${Object.keys(names).join(', ')}`);
      }
      module.name = name;
    }
  });
}
