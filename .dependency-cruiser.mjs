// @ts-check
/**
 * The layering of src/, checked by `npm run lint:layers` (part of `npm run check`).
 *
 * Layers, bottom to top. A module may import from its own layer or any layer below it,
 * never from one above: a lower layer that reached up would make the picture a lie, and
 * every such import so far has also been a cycle in the making. Within a layer, folders
 * listed in `apart` must not import each other either (groups and quotas share a floor
 * but are handed what they need of each other from above).
 */
const LAYERS = [
  {
    name: 'foundation',
    paths: [
      '^src/errors\\.ts$',
      '^src/context\\.ts$',
      '^src/version\\.ts$',
      '^src/config/',
      '^src/db/',
    ],
  },
  { name: 'cells', paths: ['^src/cells/'] },
  { name: 'groups-quotas', paths: ['^src/groups/', '^src/quotas/'], apart: true },
  { name: 'online', paths: ['^src/online/'] },
  { name: 'status', paths: ['^src/status/'] },
  { name: 'entry-points', paths: ['^src/api/', '^src/cli/'], apart: true },
  { name: 'library', paths: ['^src/index\\.ts$'] },
];

/** @param {readonly string[]} paths */
const anyOf = (paths) => `(${paths.join('|')})`;

/** @param {typeof LAYERS} layers */
function layerRules(layers) {
  /** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
  const rules = [];
  layers.forEach((layer, index) => {
    const above = layers.slice(index + 1).flatMap((l) => l.paths);
    if (above.length > 0) {
      rules.push({
        name: `layer-${layer.name}-looks-down`,
        comment: `${layer.name} imports from a higher layer; hand the dependency in from above or move it down`,
        severity: 'error',
        from: { path: anyOf(layer.paths) },
        to: { path: anyOf(above) },
      });
    }
    if (layer.apart === true) {
      for (const from of layer.paths) {
        const others = layer.paths.filter((p) => p !== from);
        rules.push({
          name: `layer-${layer.name}-apart`,
          comment: `${from} and ${others.join(', ')} share a layer and must not import each other`,
          severity: 'error',
          from: { path: from },
          to: { path: anyOf(others) },
        });
      }
    }
  });
  return rules;
}

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'An import cycle means two modules are one layer pretending to be two',
      severity: 'error',
      from: {},
      // Type-only imports count too: a type that needs an upper layer is still a dependency on it.
      to: { circular: true },
    },
    ...layerRules(LAYERS),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js'],
    },
  },
};
