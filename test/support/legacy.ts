/** The tests write legacy groups with the one writer the benchmarks and seed:legacy use. */
export {
  insertLegacyGroups,
  writeLegacyGroups,
  type LegacyGroup,
} from '../../tools/legacy-rows.js';
