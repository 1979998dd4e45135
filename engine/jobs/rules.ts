/**
 * Pure rule matching: rules are compiled once (regular expressions, method and status sets) and applied
 * in their configured order. Pre-route rules match method and path; post-route rules also the response
 * status (every status when the rule names none). Job chains are checked here too.
 */

import type { JobRule } from '../../core/config/config';
import { JobError, MAX_CHAIN, type NamedRule } from './job-types';

export interface CompiledRule {
  rule: NamedRule;
  pattern: RegExp;
  methods: Set<string>;
  statuses: Set<number> | null;
  /** `queue/function`, the rule's identity in a job chain. */
  link: string;
}

export function compileRules(jobs: Record<string, JobRule>): CompiledRule[] {
  return Object.entries(jobs).map(([name, r]) => {
    const codes = r.statusCode === undefined ? null : Array.isArray(r.statusCode) ? r.statusCode : [r.statusCode];
    return {
      rule: { ...r, postRoute: r.postRoute === true, name },
      pattern: new RegExp(r.pathPattern),
      methods: new Set((Array.isArray(r.method) ? r.method : [r.method]).map((m) => m.toUpperCase())),
      statuses: codes ? new Set(codes) : null,
      link: chainLink(r.queue, r.function),
    };
  });
}

export function chainLink(queue: string, fn: string): string {
  return `${queue}/${fn}`;
}

/** The rules that apply to a request, in order. `status` given = post-route rules, else pre-route rules. */
export function matchRules(rules: readonly CompiledRule[], method: string, path: string, status?: number): CompiledRule[] {
  const post = status !== undefined;
  return rules.filter((c) => {
    if (c.rule.postRoute !== post) return false;
    if (!c.methods.has(method.toUpperCase())) return false;
    if (post && c.statuses && !c.statuses.has(status)) return false;
    c.pattern.lastIndex = 0;
    return c.pattern.test(path);
  });
}

/** Parse the chain header (`queue/function` links, comma-separated); junk is dropped, never trusted further. */
export function parseChain(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : header ?? '';
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^[^,\s]{1,200}\/[^,\s]{1,200}$/.test(s))
    .slice(0, MAX_CHAIN + 1);
}

/**
 * The chain of a new job: the chain that led here plus the new link. Throws a 508 JobError when the link is
 * already in the chain (a job leading back to itself) or the chain is too long.
 */
export function extendChain(chain: readonly string[], link: string): string[] {
  if (chain.includes(link)) {
    throw new JobError(508, `Circular job chain refused: ${[...chain, link].join(' -> ')} leads back to ${link}.`);
  }
  if (chain.length >= MAX_CHAIN) {
    throw new JobError(508, `Job chain refused: more than ${MAX_CHAIN} jobs lead to one another (${[...chain, link].join(' -> ')}).`);
  }
  return [...chain, link];
}

/** Query parameters of a URL as a flat record (last value wins). */
export function queryOf(url: string): Record<string, string> {
  const q = url.indexOf('?');
  const out: Record<string, string> = {};
  if (q < 0) return out;
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) out[k] = v;
  return out;
}

export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
