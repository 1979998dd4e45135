/**
 * Beamline's roles as separate processes (the compiled product in dist/) against one Redis (a cluster's
 * node list or a standalone URL): what an operator deploying on several machines runs.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { built } from '../../helpers/paths';
import { exitOf, freePort, waitForOutput } from '../../helpers/process';
import { TEST_API_TOKEN } from '../../helpers/app';

export type RoleName = 'engine' | 'ingest' | 'transcoder';

export interface RoleProcess {
  roles: RoleName[];
  child: ChildProcess;
  /** Engine: the HTTP base URL. */
  http: string | null;
  srtPort: number;
  rtmpPort: number;
  output(): string;
  /** Whether it is still running. */
  alive(): boolean;
  kill(signal?: NodeJS.Signals): void;
  stop(): Promise<number | null>;
}

export async function startRole(redisUrl: string, roles: RoleName[], env: Record<string, string> = {}): Promise<RoleProcess> {
  const appPort = await freePort();
  const srtPort = await freePort();
  const rtmpPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'beamline-role-'));
  const child = spawn(process.execPath, [built('beamline.js'), '--roles', roles.join(',')], {
    env: {
      ...process.env,
      BEAM_REDIS_URL: redisUrl,
      BEAM_API_TOKEN: TEST_API_TOKEN,
      BEAM_APP_HOST: '127.0.0.1',
      BEAM_APP_PORT: String(appPort),
      BEAM_SRT_HOST: '127.0.0.1',
      BEAM_SRT_PORT: String(srtPort),
      BEAM_RTMP_HOST: '127.0.0.1',
      BEAM_RTMP_PORT: String(rtmpPort),
      BEAM_DATA_DIR: dataDir,
      BEAM_LOG_LEVEL: 'warn',
      BEAM_TRANSCODER_CONCURRENCY: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The data dir is this process's alone (BEAM_DATA_DIR unless a test's env names another): gone when it exits.
  child.once('exit', () => {
    rmSync(dataDir, { recursive: true, force: true });
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  await waitForOutput(child, /Beamline is running/, 30_000);
  return {
    roles,
    child,
    http: roles.includes('engine') ? `http://127.0.0.1:${appPort}` : null,
    srtPort,
    rtmpPort,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: (signal = 'SIGKILL') => child.kill(signal),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exitOf(child, 15_000);
    },
  };
}
