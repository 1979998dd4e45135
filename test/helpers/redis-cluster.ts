/**
 * Test helper: a real Redis Cluster on loopback, created by the test itself: `masters` primaries with one
 * replica each (redis-server in cluster mode, joined with `redis-cli --cluster create`), short node
 * timeouts so a killed primary fails over within seconds. Every process is stopped by close().
 */

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './process';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  process: ChildProcess | null;
}

export interface TestCluster {
  /** BEAM_REDIS_URL form: the node URLs, comma-separated. */
  url: string;
  nodes: ClusterNode[];
  /** The port of the primary serving `key`'s slot now. */
  primaryOf(key: string): Promise<number>;
  /** SIGKILL one node (a primary loss when it serves slots). */
  kill(port: number): void;
  /** Waits until every slot is served by a reachable primary again (after a failover: no node assigns slots to a killed one). */
  waitHealthy(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

export async function startTestCluster(opts: { masters?: number; nodeTimeoutMs?: number } = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'beamline-cluster-'));
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < masters * 2; i++) {
    const port = await freePort();
    const nodeDir = join(dir, String(port));
    const p = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2000),
      '--appendonly', 'no', '--save', '', '--dir', dir, '--logfile', join(dir, `${port}.log`), '--daemonize', 'no',
    ], { stdio: 'ignore' });
    void nodeDir;
    nodes.push({ port, process: p });
  }
  for (const n of nodes) await waitFor(`redis node ${n.port}`, async () => (await cli(n.port, 'PING').catch(() => '')).includes('PONG'), 10_000);
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
  const cluster: TestCluster = {
    url: nodes.map((n) => `redis://127.0.0.1:${n.port}`).join(','),
    nodes,
    async primaryOf(key) {
      const slot = Number((await cli(alive()[0]!.port, 'CLUSTER', 'KEYSLOT', key)).trim());
      const shards = await cli(alive()[0]!.port, 'CLUSTER', 'SLOTS');
      // redis-cli prints CLUSTER SLOTS flat: start, end, then host, port, id per node (primary first).
      const lines = shards.split('\n').map((l) => l.trim()).filter(Boolean);
      for (let i = 0; i + 4 < lines.length; i++) {
        const start = Number(lines[i]);
        const end = Number(lines[i + 1]);
        if (Number.isInteger(start) && Number.isInteger(end) && lines[i + 2] === '127.0.0.1' && slot >= start && slot <= end) return Number(lines[i + 3]);
      }
      throw new Error(`no primary found for slot ${slot}`);
    },
    kill(port) {
      const n = nodes.find((x) => x.port === port);
      n?.process?.kill('SIGKILL');
      if (n) n.process = null;
    },
    async waitHealthy(timeoutMs) {
      // Right after a kill the others still report state ok with every slot served: they have not noticed yet.
      // Healthy means no node still assigns slots to a killed node (its replica was promoted and took them).
      const killed = nodes.filter((n) => n.process === null).map((n) => `:${n.port}@`);
      await waitFor('the cluster to be healthy', async () => {
        for (const n of alive()) {
          const info = await cli(n.port, 'CLUSTER', 'INFO').catch(() => '');
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
          const table = await cli(n.port, 'CLUSTER', 'NODES').catch(() => '');
          if (!table) return false;
          for (const line of table.split('\n')) {
            const f = line.trim().split(' ');
            if (f.length > 8 && killed.some((k) => (f[1] ?? '').includes(k))) return false;
          }
        }
        return true;
      }, timeoutMs, 250);
    },
    async close() {
      for (const n of nodes) n.process?.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  function alive(): ClusterNode[] {
    return nodes.filter((n) => n.process !== null);
  }
  await cluster.waitHealthy(20_000);
  return cluster;
}
