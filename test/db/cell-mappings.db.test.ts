import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CELL0_UUID, CellMappings } from '../../src/cells/cell-mappings.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { syncSchema } from '../../src/db/migrations/migrator.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import { CellExists, CellNotFound, InvalidInput } from '../../src/errors.js';
import { forEachEngine, freshDatabase, type FreshDatabase } from '../support/engines.js';

forEachEngine((engine) => {
  describe('cell mappings', () => {
    let fresh: FreshDatabase;
    let api: Database<ApiDatabase>;
    let cells: CellMappings;
    beforeEach(async () => {
      fresh = await freshDatabase(engine);
      api = openDatabase<ApiDatabase>(fresh.url);
      await syncSchema(api, 'api');
      cells = new CellMappings(api);
    });
    afterEach(async () => {
      await api.close();
      await fresh.drop();
    });

    it('creates, reads, lists in mapping order, updates and deletes a cell', async () => {
      const cell0 = await cells.create({
        uuid: CELL0_UUID,
        name: 'cell0',
        transportUrl: 'none:///',
        databaseConnection: 'sqlite:///c0.db',
      });
      const cell1 = await cells.create({
        name: 'cell1',
        transportUrl: 'rabbit://h/',
        databaseConnection: 'sqlite:///c1.db',
      });
      expect(cell0).toMatchObject({ uuid: CELL0_UUID, name: 'cell0', disabled: false });
      expect(cell1.createdAt).toBeInstanceOf(Date);
      expect((await cells.list()).map((c) => c.name)).toEqual(['cell0', 'cell1']);

      const updated = await cells.update(cell1.uuid, { name: 'renamed', disabled: true });
      expect(updated).toMatchObject({
        name: 'renamed',
        disabled: true,
        transportUrl: 'rabbit://h/',
      });
      expect(updated.updatedAt).toBeInstanceOf(Date);

      await cells.delete(updated);
      await expect(cells.getByUuid(cell1.uuid)).rejects.toThrow(CellNotFound);
    });

    it('refuses a second cell with the same uuid, database or transport URL', async () => {
      const first = await cells.create({
        name: 'a',
        transportUrl: 'rabbit://a/',
        databaseConnection: 'sqlite:///a.db',
      });
      await expect(
        cells.create({
          uuid: first.uuid,
          name: 'b',
          transportUrl: 'rabbit://b/',
          databaseConnection: 'sqlite:///b.db',
        }),
      ).rejects.toThrow(CellExists);
      await expect(
        cells.create({
          name: 'b',
          transportUrl: 'rabbit://b/',
          databaseConnection: 'sqlite:///a.db',
        }),
      ).rejects.toThrow(`already exists for another cell with uuid ${first.uuid}`);
      await expect(
        cells.create({
          name: 'b',
          transportUrl: 'rabbit://a/',
          databaseConnection: 'sqlite:///b.db',
        }),
      ).rejects.toThrow(CellExists);
      expect(await cells.list()).toHaveLength(1);
    });

    it('refuses a transport URL without a scheme', async () => {
      await expect(
        cells.create({
          name: 'x',
          transportUrl: 'localhost',
          databaseConnection: 'sqlite:///x.db',
        }),
      ).rejects.toThrow(InvalidInput);
    });

    it('deletes the instance mappings of a cell with it', async () => {
      const cell = await cells.create({
        name: 'a',
        transportUrl: 'rabbit://a/',
        databaseConnection: 'sqlite:///a.db',
      });
      await api.db
        .insertInto('instance_mappings')
        .values({ instance_uuid: 'i-1', cell_id: cell.id, project_id: 'p' })
        .execute();
      expect(await cells.countInstanceMappings(cell.id)).toBe(1);
      await cells.delete(cell);
      expect(await api.db.selectFrom('instance_mappings').selectAll().execute()).toEqual([]);
    });
  });
});
