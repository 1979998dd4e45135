/**
 * Which archive a process uses, as data (so the transcoders' sandboxed children open the same one), and the
 * one place that opens it: a local folder (`file://`, default `<data dir>/archive`) or S3-compatible object
 * storage (`s3://bucket/prefix`, BEAM_S3_ENDPOINT, BEAM_S3_REGION).
 */

import type { BeamConfig } from '../config/config';
import { archiveDirOf } from '../config/config';
import type { ArchiveBackend } from './archive-backend';
import { createFileArchive } from './file-archive';
import { createS3Archive, parseS3Url } from './s3-archive';

export type ArchiveTarget =
  | { kind: 'file'; dir: string }
  | { kind: 's3'; bucket: string; prefix: string; endpoint: string | null; region: string };

/** Pure: the archive the configuration names. */
export function archiveTargetOf(c: Pick<BeamConfig, 'archive' | 'redis'>): ArchiveTarget {
  if (c.archive.url?.startsWith('s3://')) return { kind: 's3', ...parseS3Url(c.archive.url), endpoint: c.archive.s3Endpoint, region: c.archive.s3Region };
  return { kind: 'file', dir: archiveDirOf(c) };
}

/** Pure: where it is, for the banner and logs (no credentials are ever part of it). */
export function describeArchive(t: ArchiveTarget): string {
  return t.kind === 'file' ? `folder ${t.dir}` : `s3://${t.bucket}/${t.prefix}${t.endpoint ? ` at ${t.endpoint}` : ''} (${t.region})`;
}

export interface OpenedArchive extends ArchiveBackend {
  close(): void;
}

export function openArchive(t: ArchiveTarget): OpenedArchive {
  if (t.kind === 's3') return createS3Archive({ bucket: t.bucket, prefix: t.prefix, endpoint: t.endpoint, region: t.region });
  return { ...createFileArchive({ dir: t.dir }), close: () => undefined };
}
