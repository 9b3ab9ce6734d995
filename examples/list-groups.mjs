// Every server group of every project, wherever it lives, through the
// library (build first: `npm run build`, which `npm start` does).
//   node examples/list-groups.mjs [--config-file cellgroups.conf]
import { ADMIN_CONTEXT, GroupService, loadConfig } from '../dist/index.js';

const files = process.argv.flatMap((arg, i, all) => (arg === '--config-file' ? [all[i + 1]] : []));
const groups = GroupService.fromConfig(loadConfig({ files }));
try {
  const { groups: all, unavailable } = await groups.list(ADMIN_CONTEXT, { allProjects: true });
  for (const g of all) {
    const where = g.location.kind === 'api' ? 'API database' : `cell ${g.location.cellName}`;
    console.log(`${g.uuid}  ${g.name}  ${g.policy}  ${g.members.length} members  (${where})`);
  }
  for (const cell of unavailable)
    console.error(`cell ${cell.name ?? cell.uuid} did not answer: ${cell.reason}`);
} finally {
  await groups.close();
}
