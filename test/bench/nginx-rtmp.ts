/**
 * nginx with Debian's libnginx-mod-rtmp as a child process, the glass-to-glass bench's reference: RTMP in
 * (application `live`), HLS out (1 s fragments) served over HTTP from the same folder, all on 127.0.0.1
 * with a private config, pid, logs and temp folders in a temporary directory. GPL-3.0-or-later.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';

export const NGINX_BIN = '/usr/sbin/nginx';
export const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

export interface NginxRtmp {
  rtmpUrl(stream: string): string;
  hlsUrl(stream: string): string;
  /** The origin of the HTTP server (pages routed there are same-origin with the HLS). */
  origin: string;
  close(): Promise<void>;
}

/** The private config: one worker, HLS of application `live` into `dir`/hls, served at /hls/. */
export function nginxConfig(dir: string, rtmpPort: number, httpPort: number): string {
  return `load_module ${RTMP_MODULE};
user root;
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:${rtmpPort};
    application live {
      live on;
      hls on;
      hls_path ${dir}/hls;
      hls_fragment 1s;
      hls_playlist_length 10s;
    }
  }
}
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:${httpPort};
    location /hls/ {
      alias ${dir}/hls/;
      add_header Cache-Control no-cache;
    }
  }
}
`;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); done(true); });
    s.once('error', () => done(false));
  });
}

export async function startNginxRtmp(rtmpPort: number, httpPort: number, timeoutMs = 5000): Promise<NginxRtmp> {
  if (!existsSync(NGINX_BIN) || !existsSync(RTMP_MODULE)) throw new Error(`nginx-rtmp needs ${NGINX_BIN} and ${RTMP_MODULE} (Debian nginx + libnginx-mod-rtmp)`);
  const dir = mkdtempSync(join(tmpdir(), 'beamline-nginx-'));
  for (const d of ['hls', 'tmp']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, rtmpPort, httpPort));
  const child: ChildProcess = spawn(NGINX_BIN, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + timeoutMs;
  while (!(await portOpen(rtmpPort)) || !(await portOpen(httpPort))) {
    if (child.exitCode !== null || Date.now() > end) {
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000) : '';
      await close();
      throw new Error(`nginx-rtmp did not start: ${err}${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    rtmpUrl: (stream) => `rtmp://127.0.0.1:${rtmpPort}/live/${stream}`,
    hlsUrl: (stream) => `http://127.0.0.1:${httpPort}/hls/${stream}.m3u8`,
    origin: `http://127.0.0.1:${httpPort}`,
    close,
  };
}
