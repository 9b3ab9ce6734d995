import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

/**
 * Ports for a test cluster: taken at random from below Linux's ephemeral
 * range (32768+), so an outgoing connection cannot take one between the check
 * and the server's bind, and far from the defaults (3306, 4444, 4567, 4568)
 * that another server on this machine may hold.
 */
const LOW = 20_000;
const HIGH = 32_000;

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/** `count` distinct ports that nothing listens on at 127.0.0.1 right now. */
export async function freePorts(count: number): Promise<number[]> {
  const chosen = new Set<number>();
  for (let tries = 0; chosen.size < count; tries++) {
    if (tries > count * 50) throw new Error(`found only ${chosen.size} of ${count} free ports`);
    const port = randomInt(LOW, HIGH);
    if (!chosen.has(port) && (await isFree(port))) chosen.add(port);
  }
  return [...chosen];
}
