import { createServer, type Server, type Socket } from 'node:net';
import { CELL0_UUID, CellMappings, type CellMapping } from '../../src/cells/cell-mappings.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { LEGACY_GROUPS_VERSION } from '../../src/db/migrations/cell/002-instance-groups-moved.js';
import { syncSchema } from '../../src/db/migrations/migrator.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { GroupService, type GroupServiceOptions } from '../../src/groups/service.js';
import { freshDatabase, type FreshDatabase, type TestEngine } from './engines.js';

/** A small cloud: an API database and cells, each on a fresh database of the given engine. */
export interface TestCloud {
  readonly api: Database<ApiDatabase>;
  /** The API database's URL (to reach it through another node of a cluster, say). */
  readonly apiUrl: string;
  readonly cells: { mapping: CellMapping; db: Database<CellDatabase> }[];
  readonly service: GroupService;
  /** Maps a cell whose database is at `url` (which need not answer). */
  addCell(name: string, url: string): Promise<CellMapping>;
  destroy(): Promise<void>;
}

export async function createCloud(
  apiEngine: TestEngine,
  cellEngines: readonly TestEngine[],
  options: GroupServiceOptions = {},
  layout: {
    /** Map the first cell as cell0 (its uuid and name). */
    cell0?: boolean;
    /** The cells' schema version (default: the last one that may hold legacy groups). */
    cellSchema?: number;
  } = {},
): Promise<TestCloud> {
  const fresh: FreshDatabase[] = [];
  const apiDb = await freshDatabase(apiEngine, 'api');
  fresh.push(apiDb);
  const api = openDatabase<ApiDatabase>(apiDb.url);
  await syncSchema(api, 'api');
  const registry = new CellMappings(api);
  const cells: TestCloud['cells'] = [];
  for (const [i, engine] of cellEngines.entries()) {
    const cellDb = await freshDatabase(engine, `cell${i + 1}`);
    fresh.push(cellDb);
    const db = openDatabase<CellDatabase>(cellDb.url);
    await syncSchema(db, 'cell', layout.cellSchema ?? LEGACY_GROUPS_VERSION);
    const asCell0 = layout.cell0 === true && i === 0;
    const mapping = await registry.create({
      ...(asCell0 ? { uuid: CELL0_UUID } : {}),
      name: asCell0 ? 'cell0' : `cell${i + 1}`,
      transportUrl: asCell0 ? 'none:///' : `none:///cell${i + 1}`,
      databaseConnection: cellDb.url,
    });
    cells.push({ mapping, db });
  }
  const service = new GroupService(api, {
    ...options,
    cells: { mappingsTtlMs: 0, ...options.cells },
  });
  return {
    api,
    apiUrl: apiDb.url,
    cells,
    service,
    addCell: (name, url) =>
      registry.create({ name, transportUrl: `none:///${name}`, databaseConnection: url }),
    async destroy() {
      await service.cells.close();
      await Promise.all([api.close(), ...cells.map((c) => c.db.close())]);
      await Promise.all(fresh.map((f) => f.drop()));
    },
  };
}

/** The password in downCellUrl: it must never show up in what users are told. */
export const SECRET = 's3cret-pw';

/** A cell database that cannot be reached: a closed loopback port (a missing directory for SQLite). */
export function downCellUrl(engine: TestEngine): string {
  if (engine.name === 'postgresql') return `postgresql://nova:${SECRET}@127.0.0.1:1/nova`;
  if (engine.name === 'mysql') return `mysql+pymysql://nova:${SECRET}@127.0.0.1:1/nova`;
  return 'sqlite:////nonexistent-cellgroups-test/dir/nova.sqlite';
}

/** A port on loopback that accepts connections and never says a word: a hung database server. */
export async function blackhole(): Promise<{
  port: number;
  /** Connections made to it so far: someone is now waiting on it. */
  connections(): number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
